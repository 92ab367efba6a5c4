# Opens a guest's VNC display through virDomainOpenGraphicsFD (the
# descriptor arrives over the unix socket with SCM_RIGHTS) and speaks the
# RFB handshake on it: version, security type None, ServerInit.
# Usage: open_graphics_fd.py URI DOMAIN; prints "ok WIDTHxHEIGHT NAME"
# and QEMU's query-vnc reply taken while connected.
import socket
import sys

import libvirt
import libvirt_qemu

conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2])
fd = dom.openGraphicsFD(0, 0)
s = socket.socket(fileno=fd)
s.settimeout(30)


def recv(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("connection closed after %r" % buf)
        buf += chunk
    return buf


version = recv(12)
if not version.startswith(b"RFB 003."):
    raise SystemExit("not an RFB server: %r" % version)
s.sendall(b"RFB 003.008\n")
n = recv(1)[0]
types = list(recv(n))
if 1 not in types:
    raise SystemExit("no 'None' security type in %r" % types)
s.sendall(bytes([1]))
if recv(4) != b"\0\0\0\0":
    raise SystemExit("security handshake failed")
s.sendall(bytes([1]))  # ClientInit, shared
init = recv(24)
width = int.from_bytes(init[0:2], "big")
height = int.from_bytes(init[2:4], "big")
name = recv(int.from_bytes(init[20:24], "big")).decode()
# While the client is connected, QEMU lists it: on the passed socket it
# is a unix client, not a TCP one.
vnc = libvirt_qemu.qemuMonitorCommand(dom, '{"execute":"query-vnc"}', 0)
print("ok %dx%d %s" % (width, height, name))
print(vnc)
