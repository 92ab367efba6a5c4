"""The older list calls on the QEMU connection. Usage: URI POOLDIR"""
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])
d = sys.argv[2]


def check(what, got, want):
    if got != want:
        print("FAIL %s: got %r, want %r" % (what, got, want))
        sys.exit(1)


check("pools.num", conn.numOfStoragePools(), 0)
p = conn.storagePoolDefineXML(
    "<pool type='dir'><name>lp</name><target><path>%s</path></target></pool>" % d, 0)
check("pools.defined", conn.listDefinedStoragePools(), ["lp"])
check("pools.defined.num", conn.numOfDefinedStoragePools(), 1)
try:
    p.listVolumes()
    check("inactive listVolumes", "ok", "error")
except libvirt.libvirtError as e:
    check("inactive listVolumes", e.get_error_message(),
          "Requested operation is not valid: storage pool 'lp' is not active")
p.create(0)
check("pools", conn.listStoragePools(), ["lp"])
check("pools.num", conn.numOfStoragePools(), 1)
check("pools.defined", conn.listDefinedStoragePools(), [])
for n in ("a.img", "b.img"):
    p.createXML("<volume><name>%s</name><capacity>1024</capacity></volume>" % n, 0)
check("vols", sorted(p.listVolumes()), ["a.img", "b.img"])
check("vols.num", p.numOfVolumes(), 2)
check("target", conn.storagePoolLookupByTargetPath(d + "//").name(), "lp")
try:
    conn.storagePoolLookupByTargetPath("/nonexistent//x/")
    check("target missing", "ok", "error")
except libvirt.libvirtError as e:
    check("target missing", (e.get_error_code(), e.get_error_message()),
          (libvirt.VIR_ERR_NO_STORAGE_POOL,
           "Storage pool not found: no storage pool with matching target path '/nonexistent//x/' (/nonexistent/x)"))
check("secrets", (conn.numOfSecrets(), conn.listSecrets()), (0, []))
# the 24 filters libvirt ships, on a fresh state dir; listNWFilters bounds by maxnames
nwf = conn.listNWFilters()
check("nwfilters", (conn.numOfNWFilters(), len(nwf), "clean-traffic" in nwf), (24, 24, True))
# the host's node devices (qemu_nodedev_test.go compares them with libvirtd's)
devs = conn.listDevices(None)
check("nodedevs", (conn.numOfDevices(None) == len(devs), "computer" in devs), (True, True))
try:
    conn.secretLookupByUUIDString("8d0f5f5a-1111-2222-3333-444455556666")
except libvirt.libvirtError as e:
    check("secret lookup", e.get_error_code(), libvirt.VIR_ERR_NO_SECRET)
check("domains", (conn.numOfDomains(), conn.numOfDefinedDomains()), (0, 0))
print("ok")
