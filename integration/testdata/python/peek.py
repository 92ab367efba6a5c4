# memoryPeek / blockPeek through python-libvirt: prints one line per call,
# "ok N HEX16" or "err CODE DOMAIN MESSAGE".
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2])
image = sys.argv[3]


def t(label, f):
    try:
        r = f()
        print(label, "ok", len(r), r[:16].hex())
    except libvirt.libvirtError as e:
        print(label, "err", e.get_error_code(), e.get_error_domain(), e.get_error_message())


t("mem.phys", lambda: dom.memoryPeek(0, 64, libvirt.VIR_MEMORY_PHYSICAL))
t("mem.virt", lambda: dom.memoryPeek(0, 64, libvirt.VIR_MEMORY_VIRTUAL))
t("mem.noflag", lambda: dom.memoryPeek(0, 64, 0))
t("mem.badflag", lambda: dom.memoryPeek(0, 64, 4))
t("mem.toobig", lambda: dom.memoryPeek(0, 5000000, libvirt.VIR_MEMORY_PHYSICAL))
t("blk.target", lambda: dom.blockPeek("vda", 4096, 16, 0))
t("blk.path", lambda: dom.blockPeek(image, 4096, 16, 0))
t("blk.past", lambda: dom.blockPeek("vda", 1 << 40, 16, 0))
t("blk.host", lambda: dom.blockPeek("/etc/passwd", 0, 16, 0))
t("blk.nodisk", lambda: dom.blockPeek("vdz", 0, 16, 0))
t("blk.badflag", lambda: dom.blockPeek("vda", 0, 16, 1))
t("blk.toobig", lambda: dom.blockPeek("vda", 0, 5000000, 0))
