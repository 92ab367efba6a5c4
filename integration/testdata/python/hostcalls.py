"""Everyday running-guest calls on the test driver's 'test' domain, one
per line so two daemons' transcripts compare. Usage: URI"""
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName("test")


def show(label, fn):
    try:
        print("%s: %r" % (label, fn()))
    except libvirt.libvirtError as e:
        print("%s: error %d: %s" % (label, e.get_error_code(), e.get_error_message()))


def calls(tag):
    show(tag + ".nmi", lambda: dom.injectNMI(0))
    show(tag + ".control", lambda: dom.controlInfo(0))
    show(tag + ".diskerrors", lambda: dom.diskErrors(0))
    show(tag + ".time", lambda: dom.getTime(0))
    show(tag + ".password", lambda: dom.setUserPassword("root", "pw", 0))
    show(tag + ".sendkey", lambda: dom.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, 0, [30, 31], 2, 0))
    show(tag + ".sendkey.usb", lambda: dom.sendKey(libvirt.VIR_KEYCODE_SET_USB, 10, [4], 1, 0))
    show(tag + ".sendkey.bad", lambda: dom.sendKey(libvirt.VIR_KEYCODE_SET_USB, 0, [0xffff], 1, 0))
    show(tag + ".sendkey.set", lambda: dom.sendKey(11, 0, [1], 1, 0))
    show(tag + ".badflags", lambda: dom.injectNMI(4))
    show(tag + ".hostname", lambda: dom.hostname(0))
    show(tag + ".hostname.lease", lambda: dom.hostname(libvirt.VIR_DOMAIN_GET_HOSTNAME_LEASE))


calls("running")
for typ, act, fl in ((0, 1, 0), (1, 0, libvirt.VIR_DOMAIN_AFFECT_CONFIG), (2, 4, 0), (0, 5, 0),
                     (3, 0, 0), (0, 6, 0), (2, 3, libvirt.VIR_DOMAIN_AFFECT_LIVE), (0, 0, 8)):
    show("lifecycle.%d.%d.%d" % (typ, act, fl), lambda: dom.setLifecycleAction(typ, act, fl))
x = dom.XMLDesc(0)
print("lifecycle.live:", [l.strip() for l in x.splitlines() if l.strip().startswith("<on_")])
x = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
print("lifecycle.config:", [l.strip() for l in x.splitlines() if l.strip().startswith("<on_")])
for t in (5000, 20000, 30001, 30002, 45003, 99999):
    show("settime.%d" % t, lambda: dom.setTime({"seconds": t, "nseconds": 7}, 0))
    show("control.%d" % t, lambda: dom.controlInfo(0))
show("time", lambda: dom.getTime(0))
dom.suspend()
show("paused.time", lambda: dom.getTime(0))
show("paused.control", lambda: dom.controlInfo(0))
dom.destroy()
calls("shutoff")
show("shutoff.settime", lambda: dom.setTime({"seconds": 1}, 0))
print("ok")
