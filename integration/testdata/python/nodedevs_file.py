"""Node devices loaded from a test:///PATH node file: list, capabilities,
parent and XML of each. Usage: nodedevs_file.py URI"""
import sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
for d in sorted(c.listAllDevices(0), key=lambda d: d.name()):
    print(d.name(), d.listCaps())
    try: print(d.parent())
    except libvirt.libvirtError as e: print(e)
    print(d.XMLDesc(0))
print(sorted(c.listDevices("net")), sorted(c.listDevices("pci")))
