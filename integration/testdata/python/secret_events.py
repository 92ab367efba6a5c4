# Secret events through python-libvirt: lifecycle and value-changed
# callbacks (one filtered on a secret), over define, set-value, undefine.
import sys, threading, time
import libvirt

libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(sys.argv[1])
seen = []
lock = threading.Lock()

def lifecycle(conn, secret, event, detail, opaque):
    with lock:
        seen.append("%s lifecycle %s %d %d" % (opaque, secret.UUIDString(), event, detail))

def changed(conn, secret, opaque):
    with lock:
        seen.append("%s value-changed %s" % (opaque, secret.UUIDString()))

ids = [conn.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, lifecycle, "all"),
       conn.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, changed, "all")]
stop = False
def loop():
    while not stop:
        libvirt.virEventRunDefaultImpl()
t = threading.Thread(target=loop, daemon=True)
t.start()

u1 = "5e1e7c3a-0000-4000-8000-00000000b001"
u2 = "5e1e7c3a-0000-4000-8000-00000000b002"
s1 = conn.secretDefineXML("<secret><uuid>%s</uuid><usage type='tls'><name>govirt-ev1</name></usage></secret>" % u1)
ids.append(conn.secretEventRegisterAny(s1, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, changed, "one"))
s2 = conn.secretDefineXML("<secret ephemeral='yes'><uuid>%s</uuid></secret>" % u2)
s1.setValue(b"abc")
s2.setValue(b"def")
print("usage", s1.usageType(), s1.usageID(), s2.usageType(), repr(s2.usageID()))
print("lookup", conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_TLS, "govirt-ev1").UUIDString())
print("value", s1.value())
s1.undefine()
s2.undefine()
deadline = time.time() + 5
while time.time() < deadline:
    with lock:
        if len(seen) >= 7:
            break
    time.sleep(0.05)
for i in ids:
    conn.secretEventDeregisterAny(i)
with lock:
    for l in sorted(seen):
        print(l)
