package tcppeer

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// Rows as a little-endian kernel prints them (x86_64).
const table4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:3E81 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:3E81 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:A2C0 0100007F:3E81 06 00000000:00000000 03:00000F1D 00000000     0        0 0 3 0000000000000000
   3: 0100007F:A2C4 0100007F:3E81 01 00000000:00000000 00:00000000 00000000 65534        0 1003 1 0000000000000000 20 4 30 10 -1
`

const table6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:B000 0000000000000000FFFF00000100007F:3E81 01 00000000:00000000 00:00000000 00000000  1000        0 2001 1 0000000000000000 20 4 0 10 -1
   1: 00000000000000000000000001000000:B001 00000000000000000000000001000000:3E82 01 00000000:00000000 00:00000000 00000000  1001        0 2002 1 0000000000000000 20 4 0 10 -1
`

func littleEndian() bool {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], 1)
	return b[0] == 1
}

func TestParseLine(t *testing.T) {
	if !littleEndian() {
		t.Skip("sample rows are a little-endian kernel's")
	}
	lines := strings.Split(table4, "\n")
	e, err := ParseLine(lines[4])
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Local: netip.MustParseAddrPort("127.0.0.1:41668"), Remote: netip.MustParseAddrPort("127.0.0.1:16001"), State: 1, UID: 65534, Inode: 1003}
	if e != want {
		t.Errorf("got %+v, want %+v", e, want)
	}
	e, err = ParseLine(strings.Split(table6, "\n")[2])
	if err != nil {
		t.Fatal(err)
	}
	if e.Local != netip.MustParseAddrPort("[::1]:45057") || e.UID != 1001 {
		t.Errorf("v6 row: %+v", e)
	}
	for _, bad := range []string{"", "header line", "0: 0100007F:3E81", "0: 0100007:3E81 0100007F:A2C4 01 0 0 0 0 0 1",
		"0: 0100007F:3E8 0100007F:A2C4 01 0 0 0 0 0 1", "0: 0100007F:3E81 0100007F:A2C4 01 0 0 0 x 0 1",
		"0: 0100007F:3E81 0100007F:A2C4 01 0 0 0 0 0 -1", "0: 0100007G:3E81 0100007F:A2C4 01 0 0 0 0 0 1",
		"0 0100007F:3E81 0100007F:A2C4 01 0 0 0 0 0 1", "0: 0100007F:3E81 0100007F:A2C4 1FF 0 0 0 0 0 1"} {
		if _, err := ParseLine(bad); err == nil {
			t.Errorf("ParseLine(%q) accepted", bad)
		}
	}
}

func TestFindIn(t *testing.T) {
	if !littleEndian() {
		t.Skip("sample rows are a little-endian kernel's")
	}
	srv := netip.MustParseAddrPort("127.0.0.1:16001")
	// Our end 127.0.0.1:16001 <-> 127.0.0.1:41668: the client's row is 3.
	e, err := FindIn(strings.NewReader(table4), srv, netip.MustParseAddrPort("127.0.0.1:41668"))
	if err != nil || e.UID != 65534 || e.Inode != 1003 {
		t.Errorf("client row: %+v %v", e, err)
	}
	// A TIME_WAIT row (uid 0, no inode) is nobody's.
	if _, err := FindIn(strings.NewReader(table4), srv, netip.MustParseAddrPort("127.0.0.1:41664")); err != ErrNotFound {
		t.Errorf("TIME_WAIT row taken as the peer: %v", err)
	}
	// A v6 client socket on a v4 listener: its row has v4-mapped addresses.
	e, err = FindIn(strings.NewReader(table6), srv, netip.MustParseAddrPort("127.0.0.1:45056"))
	if err != nil || e.UID != 1000 {
		t.Errorf("v4-mapped row: %+v %v", e, err)
	}
	e, err = FindIn(strings.NewReader(table6), netip.MustParseAddrPort("[::ffff:127.0.0.1]:16001"), netip.MustParseAddrPort("[::ffff:127.0.0.1]:45056"))
	if err != nil || e.UID != 1000 {
		t.Errorf("v4-mapped addresses given: %+v %v", e, err)
	}
	e, err = FindIn(strings.NewReader(table6), netip.MustParseAddrPort("[::1]:16002"), netip.MustParseAddrPort("[::1]:45057"))
	if err != nil || e.UID != 1001 {
		t.Errorf("v6 row: %+v %v", e, err)
	}
	if _, err := FindIn(strings.NewReader("header\ngarbage\n"), srv, srv); err == nil || err == ErrNotFound {
		t.Errorf("a malformed table: %v", err)
	}
}

// TestFindLive: a real loopback connection's client end is found with
// this process's uid, over IPv4 and (when the host has it) IPv6.
func TestFindLive(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v", addr, err)
			continue
		}
		defer ln.Close()
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err == nil {
				defer c.Close()
				c.Read(make([]byte, 1))
			}
		}()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		e, err := Find(c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort())
		if err != nil || e.UID != uint32(os.Geteuid()) || e.Inode == 0 {
			t.Errorf("%s: %+v %v", addr, e, err)
		}
		// The client's socket is ours: this process holds it.
		if pid := OwnerPID(e.Inode, e.UID); pid != os.Getpid() {
			t.Errorf("%s: the socket's process is %d, want %d", addr, pid, os.Getpid())
		}
		if pid := OwnerPID(e.Inode, e.UID+1); pid != 0 {
			t.Errorf("%s: found under another uid: %d", addr, pid)
		}
		c.Close()
	}
}

func FuzzParseLine(f *testing.F) {
	for _, l := range strings.Split(table4+table6, "\n") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseLine(line)
		if err != nil {
			return
		}
		// A row read once is found again by its own addresses.
		row := "header\n" + line + "\n"
		if e.State == stateEstablished && e.Inode != 0 && !strings.ContainsAny(line, "\r\n") && len(line) < 60000 {
			got, err := FindIn(strings.NewReader(row), e.Remote, e.Local)
			if err != nil || got != e {
				t.Fatalf("row %q parsed as %+v, found %+v %v", line, e, got, err)
			}
		}
	})
}
