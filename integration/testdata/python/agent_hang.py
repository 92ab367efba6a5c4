#!/usr/bin/python3
"""agent_hang.py URI HUNG OTHER: while an agent call on guest HUNG waits on
its hung agent (the test stopped qemu-ga in the guest), time other calls on
HUNG and on OTHER (normal and agent ones) through python-libvirt, from the
same connection and from a second one, as cockpit or Nova would make them.

Prints one line per timed call, "call NAME MS AT" (AT: when it started, in
ms since the first hung call did), repeated rounds for as long as the hung
calls run, then "hung CALL MS ERROR" for each agent call on HUNG (the first
hits the agent timeout; the second waited for the first's agent job, then
hit the timeout of its guest-sync, as the failure left the agent out of
sync)."""
import sys
import threading
import time

import libvirt

uri, hung_name, other_name = sys.argv[1:4]
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
conn = libvirt.open(uri)
conn2 = libvirt.open(uri)
hung = conn.lookupByName(hung_name)
other = conn.lookupByName(other_name)
hung2 = conn2.lookupByName(hung_name)
other2 = conn2.lookupByName(other_name)

results = []
lock = threading.Lock()


def agent_call(name, fn):
    t0 = time.monotonic()
    err = "none"
    try:
        fn()
    except libvirt.libvirtError as e:
        err = e.get_error_message()
    ms = int((time.monotonic() - t0) * 1000)
    with lock:
        results.append("hung %s %d %s" % (name, ms, err))


threads = [
    threading.Thread(target=agent_call, args=("getTime", lambda: hung.getTime())),
]
T0 = time.monotonic()
threads[0].start()
time.sleep(0.3)
threads.append(threading.Thread(target=agent_call, args=(
    "interfaceAddresses",
    lambda: hung2.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT))))
threads[1].start()
time.sleep(0.3)

calls = [
    ("hung.info", lambda: hung.info()),
    ("hung.state", lambda: hung.state()),
    ("hung.XMLDesc", lambda: hung.XMLDesc()),
    ("hung2.XMLDesc", lambda: hung2.XMLDesc()),
    ("hung.controlInfo", lambda: hung.controlInfo()),
    ("hung.getCPUStats", lambda: hung.getCPUStats(True)),
    ("hung.memoryStats", lambda: hung.memoryStats()),
    ("hung.leaseAddresses", lambda: hung.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE)),
    ("listAllDomains", lambda: conn.listAllDomains()),
    ("conn2.listAllDomains", lambda: conn2.listAllDomains()),
    ("other.info", lambda: other.info()),
    ("other.XMLDesc", lambda: other2.XMLDesc()),
    ("other.getTime", lambda: other.getTime()),
    ("other.hostname", lambda: other2.hostname(libvirt.VIR_DOMAIN_GET_HOSTNAME_AGENT)),
    ("other.guestInfo", lambda: other.guestInfo(libvirt.VIR_DOMAIN_GUEST_INFO_OS)),
]
rounds = 0
while rounds < 3 or any(t.is_alive() for t in threads):
    for name, fn in calls:
        t0 = time.monotonic()
        fn()
        ms = int((time.monotonic() - t0) * 1000)
        with lock:
            results.append("call %s %d %d" % (name, ms, int((t0 - T0) * 1000)))
    rounds += 1
    time.sleep(0.1)
    if rounds > 500:
        break
for t in threads:
    t.join()
print("rounds %d" % rounds)
for r in results:
    print(r)
