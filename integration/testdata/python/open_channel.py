# open_channel.py URI DOMAIN: virDomainOpenChannel through python-libvirt.
# Prints one line per step; the Go test drives the guest side.
import sys
import libvirt

uri, name = sys.argv[1], sys.argv[2]
c = libvirt.open(uri)
d = c.lookupByName(name)


def try_open(chan, flags=0):
    st = c.newStream(0)
    try:
        d.openChannel(chan, st, flags)
    except libvirt.libvirtError as e:
        print("ERR %s %d %s" % (chan, e.get_error_code(), e.get_error_message()), flush=True)
        return None
    return st


try_open("nosuch")
try_open("org.govirt.pty")
st = try_open("org.govirt.test")
if st is None:
    sys.exit(1)
print("OPEN", flush=True)
try_open("org.govirt.test")  # busy
try_open("channel0")  # the same channel by alias: busy too
st.send(b"hello-from-host\n")
buf = b""
while b"GV-FROM-GUEST" not in buf:
    got = st.recv(1024)
    if not got:
        break
    buf += got
print("GOT %s" % buf.decode(errors="replace").strip(), flush=True)
# A forced open takes the channel over.
st2 = try_open("org.govirt.test", libvirt.VIR_DOMAIN_CHANNEL_FORCE)
print("FORCED %s" % (st2 is not None), flush=True)
try:
    st.recv(1024)
    print("OLD still open", flush=True)
except libvirt.libvirtError as e:
    print("OLD %s" % e.get_error_message(), flush=True)
st2.finish()
