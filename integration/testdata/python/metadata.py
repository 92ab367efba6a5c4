"""virDomainGetMetadata/SetMetadata on a running domain (default: the
test driver's 'test'), printed one per line so two daemons' transcripts
compare. Usage: URI [DOMAIN]"""
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2] if len(sys.argv) > 2 else "test")
D, T, E = (libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, libvirt.VIR_DOMAIN_METADATA_TITLE,
           libvirt.VIR_DOMAIN_METADATA_ELEMENT)
LIVE, CONFIG = libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG
events = []
libvirt.virEventRegisterDefaultImpl()
conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                            lambda c, d, typ, uri, o: events.append((typ, uri)), None)


def show(label, fn):
    try:
        print("%s: %r" % (label, fn()))
    except libvirt.libvirtError as e:
        print("%s: error %d: %s" % (label, e.get_error_code(), e.get_error_message()))


U1, U2 = "http://app1.org/", "http://app2.org/"
show("get.title", lambda: dom.metadata(T, None, 0))
show("get.desc", lambda: dom.metadata(D, None, 0))
show("get.elem", lambda: dom.metadata(E, U1, 0))
show("set.title", lambda: dom.setMetadata(T, "My title", None, None, 0))
show("set.title.nl", lambda: dom.setMetadata(T, "a\nb", None, None, 0))
show("set.desc.live", lambda: dom.setMetadata(D, "live desc", None, None, LIVE))
show("set.desc.config", lambda: dom.setMetadata(D, "config desc", None, None, CONFIG))
show("get.desc", lambda: dom.metadata(D, None, 0))
show("get.desc.config", lambda: dom.metadata(D, None, CONFIG))
show("get.both", lambda: dom.metadata(D, None, LIVE | CONFIG))
show("set.elem", lambda: dom.setMetadata(E, "<foo a='1'><bar>x</bar><baz/></foo>", "app1", U1, 0))
show("set.elem2", lambda: dom.setMetadata(E, "<other xmlns:q='urn:q'><q:x/></other>", "app2", U2, 0))
show("get.elem", lambda: dom.metadata(E, U1, 0))
show("get.elem2", lambda: dom.metadata(E, U2, 0))
show("set.elem.replace", lambda: dom.setMetadata(E, "<foo2/>", "app1", U1, 0))
show("get.elem", lambda: dom.metadata(E, U1, 0))
show("set.badkey", lambda: dom.setMetadata(E, "<foo/>", "1bad", U1, 0))
show("set.badxml", lambda: dom.setMetadata(E, "<foo>", "app1", U1, 0) and None)
show("rm.elem", lambda: dom.setMetadata(E, None, None, U1, 0))
show("get.elem", lambda: dom.metadata(E, U1, 0))
show("rm.title", lambda: dom.setMetadata(T, None, None, None, 0))
show("get.title", lambda: dom.metadata(T, None, 0))
show("set.title.empty", lambda: dom.setMetadata(T, "", None, None, 0))
show("get.title", lambda: dom.metadata(T, None, 0))
show("badtype", lambda: dom.metadata(7, None, 0))
show("badflags", lambda: dom.metadata(T, None, 8))
xml = dom.XMLDesc(0)
print("xml.metadata:", xml[xml.find("<metadata>"):xml.find("</metadata>") + 11] if "<metadata>" in xml else None)
print("ok")
