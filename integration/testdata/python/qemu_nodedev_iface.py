# Node devices and host interfaces of qemu:///system through
# python-libvirt: govirtd's answers must match libvirtd's on the same host.
# argv: URI, then a comma-separated list of transient device names (the
# guests' taps and bridges other tests create, which libvirtd without
# udevd never hears of) to leave out of the lists.
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
skip = set(x for x in sys.argv[2].split(",") if x) if len(sys.argv) > 2 else set()


def t(label, f):
    try:
        r = f()
    except libvirt.libvirtError as e:
        r = ("ERR", e.get_error_code(), e.get_error_domain(), e.get_error_message())
    print(label, r)


def names(lst):
    return sorted(n for n in lst if n not in skip)


t("listdev", lambda: names(c.listDevices(None)))
t("numdev", lambda: c.numOfDevices(None) - len([n for n in c.listDevices(None) if n in skip]))
for cap in ["pci", "net", "storage", "system", "usb_device", "scsi_host", "fc_host", "drm"]:
    t("listdev " + cap, lambda: names(c.listDevices(cap)))
t("listdev bad flags", lambda: c.listDevices(None, 1))
t("listall", lambda: names(d.name() for d in c.listAllDevices()))
for fl in [1 << 1, 1 << 4 | 1 << 8, 1 << 31, 1 << 30, 1 << 29]:
    t("listall %x" % fl, lambda: names(d.name() for d in c.listAllDevices(fl)))
for n in names(c.listDevices(None)):
    d = c.nodeDeviceLookupByName(n)
    t("dev " + n, lambda: (d.parent(), d.listCaps(), d.numOfCaps(), d.isActive(), d.isPersistent(), d.autostart()))
    t("xml " + n, lambda: d.XMLDesc(0))
t("lookup nope", lambda: c.nodeDeviceLookupByName("nope").name())
t("lookup path", lambda: c.nodeDeviceLookupByName("../../etc/passwd").name())
t("xml flags", lambda: c.nodeDeviceLookupByName("computer").XMLDesc(1))
t("parent computer", lambda: c.nodeDeviceLookupByName("computer").parent())
t("wwn", lambda: c.nodeDeviceLookupSCSIHostByWWN("2000000000000001", "1000000000000001", 0).name())
t("destroy", lambda: c.nodeDeviceLookupByName("computer").destroy())
t("create computer", lambda: c.nodeDeviceLookupByName("computer").create())
t("undefine computer", lambda: c.nodeDeviceLookupByName("computer").undefine())
t("setautostart", lambda: c.nodeDeviceLookupByName("computer").setAutostart(0))
t("detach computer", lambda: c.nodeDeviceLookupByName("computer").dettach())
t("reset computer", lambda: c.nodeDeviceLookupByName("computer").reset())
t("reattach computer", lambda: c.nodeDeviceLookupByName("computer").reAttach())
t("detach kvm", lambda: c.nodeDeviceLookupByName("computer").detachFlags("kvm", 0))
t("detach xen", lambda: c.nodeDeviceLookupByName("computer").detachFlags("xen", 0))

ifskip = set(s[len("net_"):].rsplit("_", 6)[0] for s in skip if s.startswith("net_"))


def ifnames(lst):
    return [n for n in lst if n not in ifskip]


t("numif", lambda: len(ifnames(c.listInterfaces())))
t("numdefif", lambda: len(ifnames(c.listDefinedInterfaces())))
t("listif", lambda: ifnames(c.listInterfaces()))
t("listdefif", lambda: ifnames(c.listDefinedInterfaces()))
for fl in [0, 1, 2, 3, 4]:
    t("listallif %d" % fl, lambda: sorted((i.name(), i.MACString(), i.isActive()) for i in c.listAllInterfaces(fl) if i.name() not in ifskip))
for i in c.listAllInterfaces():
    if i.name() in ifskip:
        continue
    t("ifxml " + i.name(), lambda: i.XMLDesc(0))
    t("ifxml inactive " + i.name(), lambda: i.XMLDesc(1))
    t("ifmac " + i.name(), lambda: c.interfaceLookupByMACString(i.MACString()).name())
t("ifxml flags", lambda: c.listAllInterfaces()[0].XMLDesc(2))
t("if nope", lambda: c.interfaceLookupByName("nope").name())
t("if mac nope", lambda: c.interfaceLookupByMACString("02:00:00:00:00:99").name())
t("if define", lambda: c.interfaceDefineXML("<interface type='ethernet' name='gvx0'/>", 0).name())
t("if undefine", lambda: c.listAllInterfaces()[0].undefine())
t("if create", lambda: c.listAllInterfaces()[0].create(0))
t("if destroy", lambda: c.listAllInterfaces()[0].destroy(0))
t("if begin", lambda: c.changeBegin(0))
t("if commit", lambda: c.changeCommit(0))
t("if rollback", lambda: c.changeRollback(0))
