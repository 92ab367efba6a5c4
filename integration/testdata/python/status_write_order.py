# Suspends and resumes one guest as fast as one connection allows, in
# rounds; after each round (ending running or paused in turn) it waits for
# late writers and compares the state in the guest's status file with the
# daemon's. Prints one "stale ..." line per disagreement, then "ok".
import json, sys, time
import libvirt

uri, name, status, rounds, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(uri)
dom = c.lookupByName(name)
for r in range(rounds):
    for i in range(n):
        dom.suspend()
        dom.resume()
    if r % 2 == 1:
        dom.suspend()
    want = dom.state()[0]
    got = None
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            got = json.load(open(status))["state"]
        except (OSError, ValueError):
            got = None
        if got == want:
            break
        time.sleep(0.1)
    if got != want:
        print("stale: round %d: daemon state %d, status file state %s" % (r, want, got))
    if r % 2 == 1:
        dom.resume()
c.close()
print("ok")
