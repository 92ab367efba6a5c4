package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// libVersion checks that an opened client is still served.
func libVersion(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r remote.ConnectGetLibVersionRet
	if err := c.Call(ctx, procs.ConnectGetLibVersion, nil, &r); err != nil {
		t.Fatalf("opened client no longer served: %v", err)
	}
}

// TestClientLimits: at max_anonymous_clients or max_clients the daemon
// stops accepting (the client waits, as with libvirtd) while clients
// already in keep working; a slot freeing or a limit raised through
// virt-admin lets the waiting client in.
func TestClientLimits(t *testing.T) {
	conf := writeConfig(t, "max_clients = 5", "max_anonymous_clients = 2")
	d := startAdminDaemon(t, "--config", conf)
	adm := d.adminSocket()

	c1, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	r1, r2 := dialRaw(t, d.SockRO), dialRaw(t, d.SockRO)
	if !served(t, r1, 5*time.Second) || !served(t, r2, 5*time.Second) {
		t.Fatal("anonymous clients below the limit not served")
	}
	r3 := dialRaw(t, d.SockRO)
	if served(t, r3, 500*time.Millisecond) {
		t.Fatal("third anonymous client served over max_anonymous_clients = 2")
	}
	libVersion(t, c1)
	f := adminFields(mustAdmin(t, adm, "srv-clients-info", "libvirtd"))
	if f["nclients"] != "3" || f["nclients_unauth"] != "2" || f["nclients_max"] != "5" || f["nclients_unauth_max"] != "2" {
		t.Fatalf("srv-clients-info: %v", f)
	}
	r1.Close()
	if !served(t, r3, 5*time.Second) {
		t.Fatal("waiting client not served after a slot freed")
	}

	// Raised at run time, the limit lets a new anonymous client in at once.
	r4 := dialRaw(t, d.SockRO)
	if served(t, r4, 300*time.Millisecond) {
		t.Fatal("r4 served over the limit")
	}
	mustAdmin(t, adm, "srv-clients-set", "libvirtd", "--max-unauth-clients", "4")
	if !served(t, r4, 5*time.Second) {
		t.Fatal("raising max_anonymous_clients did not let the waiting client in")
	}
	// c1, r2, r3, r4: max_clients 4 now refuses a fifth.
	mustAdmin(t, adm, "srv-clients-set", "libvirtd", "--max-clients", "4")
	r5 := dialRaw(t, d.SockRO)
	if served(t, r5, 500*time.Millisecond) {
		t.Fatal("client served over max_clients")
	}
	libVersion(t, c1)
	r2.Close()
	if !served(t, r5, 5*time.Second) {
		t.Fatal("client not served after a slot freed under max_clients")
	}
	if _, errOut, rc := virtAdmin(t, adm, "srv-clients-set", "libvirtd", "--max-clients", "1", "--max-unauth-clients", "2"); rc == 0 {
		t.Fatal("max_clients below max_anonymous_clients accepted")
	} else if !strings.Contains(errOut, "must be less than or equal") && !strings.Contains(errOut, "must not be less") {
		t.Fatalf("unexpected error %q", errOut)
	}
}

// TestAnonymousTimeout drops a client that never opens a connection, so
// idle sockets cannot hold the anonymous slots for ever.
func TestAnonymousTimeout(t *testing.T) {
	conf := writeConfig(t, "anonymous_client_timeout = 1")
	d := startDaemon(t, "--config", conf)
	r := dialRaw(t, d.SockRO)
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := r.Read(b[:]); err == nil {
		t.Fatal("expected the idle anonymous client to be dropped")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("idle anonymous client not dropped")
	}
	c, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(1500 * time.Millisecond)
	libVersion(t, c) // opened clients are not affected
}

// TestAcceptEMFILE: running out of descriptors must not end the daemon;
// once descriptors free up, new clients are served.
func TestAcceptEMFILE(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit not installed (util-linux)")
	}
	conf := writeConfig(t, "max_anonymous_clients = 0")
	d := startDaemon(t, "--config", conf)
	pid := d.cmd.Process.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	limit := len(fds) + 16
	if out, err := exec.Command("prlimit", "--pid", strconv.Itoa(pid), fmt.Sprintf("--nofile=%d:%d", limit, limit)).CombinedOutput(); err != nil {
		t.Fatalf("prlimit: %v: %s", err, out)
	}
	var conns []net.Conn
	for i := 0; i < 60; i++ {
		conns = append(conns, dialRaw(t, d.SockRO))
	}
	eventually(t, 20*time.Second, "an accept failure in the log", func() bool {
		return strings.Contains(d.Log(), "too many open files")
	})
	time.Sleep(300 * time.Millisecond)
	if err := d.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("daemon died: %v\n%s", err, d.Log())
	}
	for _, c := range conns {
		c.Close()
	}
	eventually(t, 30*time.Second, "virsh served after descriptors freed", func() bool {
		out, _, rc := virsh(t, d.URI("test"), "list", "--all")
		return rc == 0 && strings.Contains(out, "test")
	})
	r := dialRaw(t, d.SockRO)
	if !served(t, r, 5*time.Second) {
		t.Fatal("new client not served")
	}
}

// TestStalledHeaders: 500 clients each announcing a 32 MiB message and
// stalling cost well under 50 MB, other clients are unaffected, and the
// stalled ones are dropped after client_stall_timeout.
func TestStalledHeaders(t *testing.T) {
	conf := writeConfig(t, "max_anonymous_clients = 0", "client_stall_timeout = 4")
	d := startDaemonNoRace(t, "--config", conf)
	pid := d.cmd.Process.Pid
	good, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	libVersion(t, good)
	before := procStatus(t, pid, "VmRSS")

	const n = 500
	hdr := make([]byte, 28+1000)
	binary.BigEndian.PutUint32(hdr[0:], 32<<20)     // the largest length libvirt allows
	binary.BigEndian.PutUint32(hdr[4:], 0x20008086) // REMOTE
	binary.BigEndian.PutUint32(hdr[8:], 1)
	binary.BigEndian.PutUint32(hdr[12:], uint32(procs.DomainDefineXML))
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	for i := range conns {
		conns[i] = dialRaw(t, d.SockRO)
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			c.Write(hdr)
		}(conns[i])
	}
	wg.Wait()
	eventually(t, 20*time.Second, "all stalled clients accepted", func() bool {
		return daemonSockets(t, d) >= n
	})
	time.Sleep(500 * time.Millisecond)
	libVersion(t, good)
	after := procStatus(t, pid, "VmRSS")
	t.Logf("VmRSS %d kB -> %d kB with %d stalled clients", before, after, n)
	if growth := after - before; growth > 50*1024 {
		t.Fatalf("RSS grew by %d kB for %d stalled clients", growth, n)
	}
	// Every stalled client is dropped once the stall timeout passes.
	deadline := time.Now().Add(20 * time.Second)
	for i, c := range conns {
		c.SetReadDeadline(deadline)
		var b [1]byte
		if _, err := c.Read(b[:]); err == nil {
			t.Fatalf("client %d got data", i)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("stalled client %d not dropped", i)
		}
	}
	libVersion(t, good)
	if !strings.Contains(d.Log(), "stalled") {
		t.Error("no stall in the log")
	}
}

// daemonSockets counts the daemon's open sockets (listeners included).
func daemonSockets(t *testing.T, d *daemon) int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", d.cmd.Process.Pid), fd.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}
