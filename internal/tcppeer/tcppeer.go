// Package tcppeer finds who owns the other end of a TCP connection made on
// this host, from the kernel's socket tables (/proc/net/tcp and
// /proc/net/tcp6). A loopback TCP client has no SO_PEERCRED; its socket's
// row in those tables names the uid that created it, which the client
// cannot choose, so a daemon can identify it as it would a unix socket peer.
package tcppeer

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Entry is one row of /proc/net/tcp or /proc/net/tcp6.
type Entry struct {
	Local, Remote netip.AddrPort
	State         uint8 // TCP_ESTABLISHED is 1
	UID           uint32
	Inode         uint64
}

// stateEstablished is the kernel's TCP_ESTABLISHED.
const stateEstablished = 1

// ErrNotFound: no established socket of this host is the other end of the
// connection (the client went away, or it is not on this host).
var ErrNotFound = errors.New("tcppeer: no local socket is the peer of this connection")

// Tables are the files Find reads; tests may point them elsewhere.
var Tables = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// Find returns the socket on this host whose local address is remote and
// whose remote address is local: the client's end of a connection whose
// server end is local<->remote. IPv4 addresses match their v4-mapped IPv6
// form, so a v6 client socket reaching a v4 listener is found too.
func Find(local, remote netip.AddrPort) (Entry, error) {
	for _, path := range Tables {
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // no IPv6 on this host
			}
			return Entry{}, err
		}
		e, err := FindIn(f, local, remote)
		f.Close()
		if err == nil || !errors.Is(err, ErrNotFound) {
			return e, err
		}
	}
	return Entry{}, ErrNotFound
}

// FindIn is Find on one table's text.
func FindIn(r io.Reader, local, remote netip.AddrPort) (Entry, error) {
	local, remote = unmap(local), unmap(remote)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 64<<10)
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		e, err := ParseLine(sc.Text())
		if err != nil {
			return Entry{}, err
		}
		// Only an established socket with an inode is a live client: a
		// TIME_WAIT or SYN_RECV row has no owner of its own (uid 0).
		if e.State != stateEstablished || e.Inode == 0 {
			continue
		}
		if unmap(e.Local) == remote && unmap(e.Remote) == local {
			return e, nil
		}
	}
	if err := sc.Err(); err != nil {
		return Entry{}, err
	}
	return Entry{}, ErrNotFound
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

// ParseLine reads one row: "sl: local remote st tx:rx tr:when retrnsmt uid
// timeout inode ...", addresses as the kernel prints them (each 32-bit
// word of the address in hex, in the host's byte order, then ":PORT").
func ParseLine(line string) (Entry, error) {
	f := strings.Fields(line)
	if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
		return Entry{}, fmt.Errorf("tcppeer: malformed row %q", line)
	}
	var e Entry
	var err error
	if e.Local, err = parseAddr(f[1]); err != nil {
		return Entry{}, err
	}
	if e.Remote, err = parseAddr(f[2]); err != nil {
		return Entry{}, err
	}
	st, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return Entry{}, fmt.Errorf("tcppeer: bad state %q", f[3])
	}
	e.State = uint8(st)
	uid, err := strconv.ParseUint(f[7], 10, 32)
	if err != nil {
		return Entry{}, fmt.Errorf("tcppeer: bad uid %q", f[7])
	}
	e.UID = uint32(uid)
	if e.Inode, err = strconv.ParseUint(f[9], 10, 64); err != nil {
		return Entry{}, fmt.Errorf("tcppeer: bad inode %q", f[9])
	}
	return e, nil
}

// parseAddr reads "0100007F:1F90" (IPv4) or 32 hex digits ":PORT" (IPv6).
func parseAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 || (len(h) != 8 && len(h) != 32) {
		return netip.AddrPort{}, fmt.Errorf("tcppeer: bad address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("tcppeer: bad port in %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("tcppeer: bad address %q", s)
	}
	// Each word was printed as a number: put its bytes back in memory order.
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	var a netip.Addr
	if len(b) == 4 {
		a = netip.AddrFrom4([4]byte(b))
	} else {
		a = netip.AddrFrom16([16]byte(b))
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// ProcRoot is where OwnerPID looks for processes; tests may change it.
var ProcRoot = "/proc"

// OwnerPID finds a process holding the socket inode among the processes
// running as uid (those whose /proc entry uid owns: a process's entry
// belongs to its effective uid), from their descriptors' links
// ("socket:[INODE]"). It returns 0 when none is found (the socket was
// passed to, or is held by, a process of another uid, or it is closed).
func OwnerPID(inode uint64, uid uint32) int {
	ents, err := os.ReadDir(ProcRoot)
	if err != nil {
		return 0
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := ProcRoot + "/" + e.Name()
		var st syscall.Stat_t
		if syscall.Stat(dir, &st) != nil || st.Uid != uid {
			continue
		}
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(dir + "/fd/" + fd.Name()); err == nil && l == want {
				return pid
			}
		}
	}
	return 0
}
