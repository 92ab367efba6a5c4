"""Checkpoint calls (virDomainCheckpoint*) on the test driver, printed one
per line so that two daemons' transcripts compare (creation times and the
network bridge masked). Usage: checkpoints.py URI"""
import re
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName("test")


def clean(v):
    if isinstance(v, str):
        v = re.sub(r"<creationTime>\d+</creationTime>", "<creationTime>T</creationTime>", v)
        v = v.replace(" bridge='virbr0'", "")
    return v


def show(label, fn):
    try:
        v = fn()
        if isinstance(v, list):
            v = sorted(x.getName() if hasattr(x, "getName") else x for x in v)
        elif hasattr(v, "getName"):
            v = v.getName()
        print("%s: %r" % (label, clean(v)))
    except libvirt.libvirtError as e:
        print("%s: error %d/%d: %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))


def chk(name):
    return dom.checkpointLookupByName(name)


show("list.empty", lambda: dom.listAllCheckpoints())
show("create.c1", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>c1</name><description>first</description></domaincheckpoint>"))
show("create.dup", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>c1</name></domaincheckpoint>"))
show("create.c2", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>c2</name><disks><disk name='vda' checkpoint='bitmap' bitmap='b2'/></disks></domaincheckpoint>"))
show("create.nodisk", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>c9</name><disks><disk name='vdz'/></disks></domaincheckpoint>"))
show("create.twice", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>c9</name><disks><disk name='vda'/><disk name='/guest/diskimage1'/></disks></domaincheckpoint>"))
show("create.toomany", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>c9</name><disks><disk name='vda'/><disk name='vdb'/></disks></domaincheckpoint>"))
show("create.badroot", lambda: dom.checkpointCreateXML("<domainsnapshot><name>c9</name></domainsnapshot>"))
show("create.badflags", lambda: dom.checkpointCreateXML("<domaincheckpoint/>", 64))
show("create.c3", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>c3</name><disks><disk name='vda' checkpoint='no'/></disks></domaincheckpoint>"))
show("snapshot.refused", lambda: dom.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>"))
for flags in (0, 1, 2, 4, 8, 1 | 4, 1 | 8, 16):
    show("list.%d" % flags, lambda: dom.listAllCheckpoints(flags))
for name in ("c1", "c2", "c3"):
    show("xml." + name, lambda: chk(name).getXMLDesc())
    show("xml.nodomain." + name, lambda: chk(name).getXMLDesc(libvirt.VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN))
    show("xml.size." + name, lambda: chk(name).getXMLDesc(libvirt.VIR_DOMAIN_CHECKPOINT_XML_SIZE | 2))
    show("parent." + name, lambda: chk(name).getParent())
    for flags in (0, 1, 4, 8):
        show("children.%s.%d" % (name, flags), lambda: chk(name).listAllChildren(flags))
show("lookup.missing", lambda: dom.checkpointLookupByName("nope"))
show("lookup.flags", lambda: dom.checkpointLookupByName("c1", 1))
show("xml.badflags", lambda: chk("c1").getXMLDesc(8))
show("delete.badflags", lambda: chk("c1").delete(8))

# Delete the middle one: c3 moves under c1.
show("delete.c2", lambda: chk("c2").delete(libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY))
show("parent.c3", lambda: chk("c3").getParent())
saved = chk("c3").getXMLDesc()
show("delete.c3", lambda: chk("c3").delete())
show("list.after", lambda: dom.listAllCheckpoints())

# Redefinition.
show("redefine.noname", lambda: dom.checkpointCreateXML("<domaincheckpoint><creationTime>1</creationTime></domaincheckpoint>", 1))
show("redefine.notime", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>r1</name></domaincheckpoint>", 1))
show("redefine.self", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>r1</name><parent><name>r1</name></parent><creationTime>1</creationTime></domaincheckpoint>", 1))
show("redefine.noparent", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>r1</name><parent><name>zz</name></parent><creationTime>1</creationTime></domaincheckpoint>", 1))
show("redefine.uuid", lambda: dom.checkpointCreateXML(saved.replace("6695eb01", "6695eb02"), 1))
show("redefine.c3", lambda: dom.checkpointCreateXML(saved, 1))
show("redefine.bare", lambda: dom.checkpointCreateXML("<domaincheckpoint><name>r2</name><parent><name>c3</name></parent><creationTime>5</creationTime><disks><disk name='vda'/></disks></domaincheckpoint>", 1))
show("xml.r2", lambda: chk("r2").getXMLDesc())
show("list.redef", lambda: dom.listAllCheckpoints())
show("delete.children", lambda: chk("c1").delete(libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY))
show("list.children", lambda: dom.listAllCheckpoints())
show("delete.all", lambda: chk("c1").delete(libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN))
show("list.final", lambda: dom.listAllCheckpoints())

# A stopped domain takes none; a snapshot blocks them.
dom.destroy()
show("create.inactive", lambda: dom.checkpointCreateXML("<domaincheckpoint/>"))
dom.create()
dom.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>")
show("create.snapshot", lambda: dom.checkpointCreateXML("<domaincheckpoint/>"))
