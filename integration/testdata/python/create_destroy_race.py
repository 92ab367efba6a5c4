# Races createXML and destroy of one transient guest from several threads
# for a bounded time; prints "ok" when every call returned (errors are
# expected: the guest is often already running or already gone).
import sys, threading, time
import libvirt

uri, xmlpath, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
xml = open(xmlpath).read()
name = "race"
libvirt.registerErrorHandler(lambda *a: None, None)
stop = time.time() + seconds

def creator():
    c = libvirt.open(uri)
    while time.time() < stop:
        try:
            c.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)
        except libvirt.libvirtError:
            pass
    c.close()

def destroyer():
    c = libvirt.open(uri)
    while time.time() < stop:
        try:
            c.lookupByName(name).destroy()
        except libvirt.libvirtError:
            time.sleep(0.01)
    c.close()

ts = [threading.Thread(target=creator) for _ in range(5)] + \
     [threading.Thread(target=destroyer) for _ in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("ok")
