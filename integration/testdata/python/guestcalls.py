"""The guest calls libvirt's test driver fakes (process signals, file
system freeze/thaw/trim, memory peeks, launch security info), printed one
per line so that two daemons' transcripts compare. Usage: guestcalls.py URI"""
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName("test")


def show(label, fn):
    try:
        print("%s: %r" % (label, fn()))
    except libvirt.libvirtError as e:
        print("%s: error %d/%d: %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))
    except (TypeError, SystemError) as e:
        print("%s: client error" % label)


show("signal", lambda: dom.sendProcessSignal(1, 15))
show("signal.pid", lambda: dom.sendProcessSignal(2, 15))
show("signal.num", lambda: dom.sendProcessSignal(1, 65))
show("signal.flags", lambda: dom.sendProcessSignal(1, 15, 1))
show("freeze.root", lambda: dom.fsFreeze(["/"]))
show("freeze.all", lambda: dom.fsFreeze())
show("freeze.again", lambda: dom.fsFreeze())
show("freeze.bad", lambda: dom.fsFreeze(["/", "/var"]))
show("thaw.boot", lambda: dom.fsThaw(["/boot"]))
show("thaw.bad", lambda: dom.fsThaw(["/nope"]))
show("thaw.all", lambda: dom.fsThaw())
show("thaw.again", lambda: dom.fsThaw())
show("freeze.flags", lambda: dom.fsFreeze(None, 1))
show("trim", lambda: dom.fSTrim(None, 0))
show("trim.root", lambda: dom.fSTrim("/boot", 1024))
show("trim.bad", lambda: dom.fSTrim("/var", 0))
show("trim.flags", lambda: dom.fSTrim(None, 0, 1))
show("peek.virt", lambda: list(dom.memoryPeek(250, 10, libvirt.VIR_MEMORY_VIRTUAL)))
show("peek.phys", lambda: list(dom.memoryPeek(3, 4, libvirt.VIR_MEMORY_PHYSICAL)))
show("peek.both", lambda: dom.memoryPeek(0, 4, 3))
show("peek.flags", lambda: dom.memoryPeek(0, 4, 4))
dom.destroy()
show("freeze.inactive", lambda: dom.fsFreeze())
show("trim.inactive", lambda: dom.fSTrim(None, 0))
show("peek.inactive", lambda: dom.memoryPeek(0, 4, 1))
show("signal.inactive", lambda: dom.sendProcessSignal(1, 9))
