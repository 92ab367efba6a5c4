"""Node device calls of the test driver (list, lookup, XML, parent,
capabilities, vHBA create/destroy and their events), printed one per line
so that two daemons' transcripts compare. Usage: nodedevs.py URI"""
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


def show(label, fn):
    try:
        v = fn()
        if isinstance(v, list):
            v = sorted(x.name() if hasattr(x, "name") else x for x in v)
        elif isinstance(v, libvirt.virNodeDevice):
            v = v.name()
        print("%s: %r" % (label, v))
    except libvirt.libvirtError as e:
        print("%s: error %d/%d: %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))


cb = conn.nodeDeviceEventRegisterAny(None, libvirt.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE,
                                     lambda c, d, ev, det, o: events.append("%s %d %d" % (d.name(), ev, det)), None)
cb2 = conn.nodeDeviceEventRegisterAny(conn.nodeDeviceLookupByName("scsi_host2"), libvirt.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE,
                                      lambda c, d, ev, det, o: events.append("filtered %s" % d.name()), None)

show("all", lambda: conn.listAllDevices(0))
for bit in range(23):
    show("all.%d" % bit, lambda: conn.listAllDevices(1 << bit))
show("all.active", lambda: conn.listAllDevices(1 << 31))
for cap in (None, "system", "scsi_host", "fc_host", "vports", "pci", "nope"):
    show("num.%s" % cap, lambda: conn.numOfDevices(cap))
    show("names.%s" % cap, lambda: conn.listDevices(cap))
show("num.flags", lambda: conn.numOfDevices(None, 1))
show("names.flags", lambda: conn.listDevices(None, 1))
for name in ("computer", "scsi_host1", "scsi_host2", "scsi_host11"):
    show("xml." + name, lambda: conn.nodeDeviceLookupByName(name).XMLDesc(0))
    show("parent." + name, lambda: conn.nodeDeviceLookupByName(name).parent())
    show("caps." + name, lambda: conn.nodeDeviceLookupByName(name).listCaps())
    show("numcaps." + name, lambda: conn.nodeDeviceLookupByName(name).numOfCaps())
show("xml.flags", lambda: conn.nodeDeviceLookupByName("computer").XMLDesc(1))
show("lookup.missing", lambda: conn.nodeDeviceLookupByName("nope"))
show("lookup.wwn", lambda: conn.nodeDeviceLookupSCSIHostByWWN("2000000012341234", "1000000012341234", 0))

vhba = """<device>
  <parent>%s</parent>
  <capability type='scsi_host'>
    <capability type='fc_host'>
      <wwnn>2001001b32a9da4e</wwnn>
      <wwpn>2101001b32a9da4e</wwpn>
    </capability>
  </capability>
</device>"""
show("create.noparent", lambda: conn.nodeDeviceCreateXML(vhba % "nope", 0))
show("create.novport", lambda: conn.nodeDeviceCreateXML(vhba % "scsi_host11", 0))
show("create.nofc", lambda: conn.nodeDeviceCreateXML("<device><parent>scsi_host1</parent><capability type='scsi_host'/></device>", 0))
show("create.nocaps", lambda: conn.nodeDeviceCreateXML("<device><parent>scsi_host1</parent></device>", 0))
show("create.badcap", lambda: conn.nodeDeviceCreateXML("<device><capability type='bogus'/></device>", 0))
show("create.badroot", lambda: conn.nodeDeviceCreateXML("<pool/>", 0))
show("create.flags", lambda: conn.nodeDeviceCreateXML(vhba % "scsi_host1", 2))
show("create", lambda: conn.nodeDeviceCreateXML(vhba % "scsi_host1", 0))
show("create.again", lambda: conn.nodeDeviceCreateXML(vhba % "scsi_host2", 0))
show("create.bywwn", lambda: conn.nodeDeviceCreateXML(
    "<device><parent wwnn='2000000056785678' wwpn='1000000056785678'/><capability type='scsi_host'><capability type='fc_host'><wwnn>2001001b32a9da4f</wwnn><wwpn>2101001b32a9da4f</wwpn></capability></capability></device>", 0))
show("create.byfabric", lambda: conn.nodeDeviceCreateXML(
    "<device><parent fabric_wwn='2000000087658765'/><capability type='scsi_host'><capability type='fc_host'><wwnn>2001001b32a9da50</wwnn><wwpn>2101001b32a9da50</wwpn></capability></capability></device>", 0))
show("create.any", lambda: conn.nodeDeviceCreateXML(
    "<device><capability type='scsi_host'><capability type='fc_host'><wwnn>2001001b32a9da51</wwnn><wwpn>2101001b32a9da51</wwpn></capability></capability></device>", 0))
show("create.halfwwn", lambda: conn.nodeDeviceCreateXML(
    "<device><parent wwnn='2000000056785678'/><capability type='scsi_host'><capability type='fc_host'/></capability></device>", 0))
show("xml.scsi_host12", lambda: conn.nodeDeviceLookupByName("scsi_host12").XMLDesc(0))
show("all.created", lambda: conn.listAllDevices(0))
show("destroy.computer", lambda: conn.nodeDeviceLookupByName("computer").destroy())
show("destroy", lambda: conn.nodeDeviceLookupByName("scsi_host12").destroy())
show("destroy.gone", lambda: conn.nodeDeviceLookupByName("scsi_host12").destroy())
show("all.destroyed", lambda: conn.listAllDevices(0))
time.sleep(0.5)
print("events: %r" % events)
show("deregister", lambda: conn.nodeDeviceEventDeregisterAny(cb))
show("deregister.filtered", lambda: conn.nodeDeviceEventDeregisterAny(cb2))
