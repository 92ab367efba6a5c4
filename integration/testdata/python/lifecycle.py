#!/usr/bin/python3
"""Domain lifecycle through python-libvirt against govirtd, with events.

Usage: lifecycle.py URI
Prints one line per observed event and exits non-zero on any failure.
"""
import sys
import threading
import time

import libvirt

URI = sys.argv[1]
XML = """<domain type='test'>
  <name>pydemo</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>"""

libvirt.virEventRegisterDefaultImpl()
events = []
cond = threading.Condition()


def loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()


def on_lifecycle(conn, dom, event, detail, opaque):
    with cond:
        events.append((dom.name(), event, detail))
        cond.notify_all()


conn = libvirt.open(URI)
cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)

dom = conn.defineXML(XML)
assert dom.name() == "pydemo"
assert not dom.isActive()
assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN], dom.state()
dom.create()
assert dom.isActive()
assert dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED], dom.state()
dom.suspend()
assert dom.state() == [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER], dom.state()
dom.resume()
assert dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_UNPAUSED], dom.state()
dom.destroy()
assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED], dom.state()
try:
    dom.destroy()
    raise SystemExit("destroy of an inactive domain succeeded")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID, e.get_error_code()
dom.undefine()
try:
    conn.lookupByName("pydemo")
    raise SystemExit("lookup of an undefined domain succeeded")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e.get_error_code()

want = [
    ("pydemo", libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED),
    ("pydemo", libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED),
    ("pydemo", libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
    ("pydemo", libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
    ("pydemo", libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
    ("pydemo", libvirt.VIR_DOMAIN_EVENT_UNDEFINED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED),
]
deadline = time.time() + 10
with cond:
    while len(events) < len(want) and time.time() < deadline:
        cond.wait(0.2)
for e in events:
    print("event", *e)
if events != want:
    raise SystemExit("events %r, want %r" % (events, want))
conn.domainEventDeregisterAny(cb)
conn.close()
print("ok")
