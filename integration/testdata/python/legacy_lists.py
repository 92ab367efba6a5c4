"""The older list calls (virConnectNumOf*, virConnectList*, ...) and the
lookups, printed one per line so that two daemons' transcripts compare.
Usage: legacy_lists.py URI"""
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])


def show(label, fn):
    try:
        v = fn()
        if isinstance(v, list):
            v = sorted(v)
        print("%s: %r" % (label, v))
    except libvirt.libvirtError as e:
        print("%s: error %d: %s" % (label, e.get_error_code(), e.get_error_message()))


def lists():
    show("domains.num", conn.numOfDomains)
    show("domains.ids", lambda: len(conn.listDomainsID()))
    show("domains.defined.num", conn.numOfDefinedDomains)
    show("domains.defined", conn.listDefinedDomains)
    show("networks.num", conn.numOfNetworks)
    show("networks", conn.listNetworks)
    show("networks.defined.num", conn.numOfDefinedNetworks)
    show("networks.defined", conn.listDefinedNetworks)
    show("pools.num", conn.numOfStoragePools)
    show("pools", conn.listStoragePools)
    show("pools.defined.num", conn.numOfDefinedStoragePools)
    show("pools.defined", conn.listDefinedStoragePools)
    show("ifaces.num", conn.numOfInterfaces)
    show("ifaces", conn.listInterfaces)
    show("ifaces.defined.num", conn.numOfDefinedInterfaces)
    show("ifaces.defined", conn.listDefinedInterfaces)
    show("secrets.num", conn.numOfSecrets)
    show("secrets", conn.listSecrets)
    show("nwfilters.num", conn.numOfNWFilters)
    show("nwfilters", conn.listNWFilters)
    show("nodedevs.num", lambda: conn.numOfDevices(None))
    show("nodedevs", lambda: conn.listDevices(None))


lists()
pool = conn.storagePoolLookupByName("default-pool")
show("pool.vols.num", pool.numOfVolumes)
show("pool.vols", pool.listVolumes)
pool.createXML("<volume><name>v1</name><capacity>1024</capacity></volume>", 0)
pool.createXML("<volume><name>v2</name><capacity>1024</capacity></volume>", 0)
show("pool.vols.num", pool.numOfVolumes)
show("pool.vols", pool.listVolumes)

# A defined, inactive pool and network, and a defined domain.
p2 = conn.storagePoolDefineXML(
    "<pool type='dir'><name>p2</name><target><path>/p2</path></target></pool>", 0)
show("inactive.vols.num", p2.numOfVolumes)
show("inactive.vols", p2.listVolumes)
conn.networkDefineXML("<network><name>n2</name></network>")
conn.defineXML("<domain type='test'><name>d2</name><memory>1024</memory>"
               "<os><type>hvm</type></os></domain>")
lists()

snapdom = conn.lookupByName("test")
top = snapdom.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>", 0)
snapdom.snapshotCreateXML("<domainsnapshot><name>s2</name></domainsnapshot>", 0)
show("snap.children.num", top.numChildren)
show("snap.children", top.listChildrenNames)
show("snap.children.all", lambda: top.listChildrenNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS))

show("lookup.secret.uuid", lambda: conn.secretLookupByUUIDString("8d0f5f5a-1111-2222-3333-444455556666"))
show("lookup.secret.usage", lambda: conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, "/x"))
show("lookup.nwfilter.name", lambda: conn.nwfilterLookupByName("clean-traffic"))
show("lookup.nodedev.missing", lambda: conn.nodeDeviceLookupByName("nope"))
show("lookup.pool.target", lambda: conn.storagePoolLookupByTargetPath("/default-pool").name())
print("ok")
