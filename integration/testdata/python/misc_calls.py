"""virDomainGetBlockInfo, virDomainSetMemoryStatsPeriod and
virDomainRename on the test driver (with the rename's events), printed
one per line so that two daemons' transcripts compare. Usage: misc_calls.py URI"""
import re
import sys
import threading
import time
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(sys.argv[1])
events = []


def loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()
conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                            lambda c, d, ev, det, o: events.append("%s %d %d" % (d.name(), ev, det)), None)


def show(label, fn):
    try:
        v = fn()
        if isinstance(v, str):
            v = re.sub(r"<uuid>[^<]*</uuid>", "<uuid/>", v).replace(" bridge='virbr0'", "")
        print("%s: %r" % (label, v))
    except libvirt.libvirtError as e:
        print("%s: error %d/%d: %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))


dom = conn.lookupByName("test")
show("blockinfo.vda", lambda: dom.blockInfo("vda"))
show("blockinfo.path", lambda: dom.blockInfo("/guest/diskimage1"))
show("blockinfo.bad", lambda: dom.blockInfo("vdz"))
show("blockinfo.flags", lambda: dom.blockInfo("vda", 1))
show("period", lambda: dom.setMemoryStatsPeriod(10))
show("period.config", lambda: dom.setMemoryStatsPeriod(5, libvirt.VIR_DOMAIN_AFFECT_CONFIG))
show("period.both", lambda: dom.setMemoryStatsPeriod(5, 3))
show("period.flags", lambda: dom.setMemoryStatsPeriod(5, 8))
show("xml.live", lambda: dom.XMLDesc(0))
show("xml.config", lambda: dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
nb = conn.defineXML("<domain type='test'><name>nb</name><memory>1024</memory><os><type>hvm</type></os>"
                    "<devices><disk type='file' device='cdrom'><target dev='hdc'/></disk><memballoon model='none'/></devices></domain>")
show("blockinfo.empty", lambda: nb.blockInfo("hdc"))
show("period.none", lambda: nb.setMemoryStatsPeriod(1, libvirt.VIR_DOMAIN_AFFECT_CONFIG))
show("rename.active", lambda: dom.rename("t2"))
show("rename.self", lambda: nb.rename("nb"))
show("rename.exists", lambda: nb.rename("test"))
show("rename.slash", lambda: nb.rename("a/b"))
show("rename.flags", lambda: nb.rename("x", 1))
show("rename", lambda: nb.rename("nb2"))
show("lookup.old", lambda: conn.lookupByName("nb").name())
show("lookup.new", lambda: conn.lookupByName("nb2").name())
show("names", lambda: sorted(d.name() for d in conn.listAllDomains(0)))
t = conn.createXML("<domain type='test'><name>tr</name><memory>1024</memory><os><type>hvm</type></os></domain>")
show("rename.transient", lambda: t.rename("tr2"))
dom.destroy()
show("rename.test", lambda: dom.rename("test2"))
show("xml.renamed", lambda: conn.lookupByName("test2").XMLDesc(0))
time.sleep(0.5)
print("events: %r" % events)
