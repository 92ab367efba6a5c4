package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQEMUMigrateLibvirtdTunnel migrates a running TCG guest govirtd ->
// libvirtd 9.0 -> govirtd with --p2p --tunnelled (issue 18): QEMU's
// stream goes through the daemons' RPC connection, on the stream of the
// destination's PREPARE_TUNNEL3_PARAMS call, each daemon's p2p client
// reaching the other's unix socket. After each leg the guest runs on the
// destination only, answers on its console there and reads back the
// data written to its disk before the first leg; the second round adds
// --persistent --undefinesource (the definition in Perform's cookie).
func TestQEMUMigrateLibvirtdTunnel(t *testing.T) {
	d, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvmig-tun-%d", os.Getpid())
	_, sock, con := lvGuest(t, d, name, dir, "")
	want := guestWrite(t, con, "/dev/vda", 13, 1024)
	leg := 0
	move := func(fromURI, toURI, flags string) {
		t.Helper()
		leg++
		next := filepath.Join(dir, fmt.Sprintf("con%d", leg))
		lvMoveTunnel(t, d, fromURI, toURI, name, flags, sock, next)
		sock = next
		if got := guestSum(t, console(t, sock), "/dev/vda", 1024); got != want {
			t.Fatalf("leg %d: disk data after the tunnelled migration: %s, want %s", leg, got, want)
		}
	}
	move(uri, libvirtdURI, "--unsafe")
	move(libvirtdURI, uri, "--unsafe")
	move(uri, libvirtdURI, "--unsafe --persistent --undefinesource")
	if out, _, _ := virsh(t, libvirtdURI, "dominfo "+name); !strings.Contains(out, "Persistent:     yes") {
		t.Errorf("libvirtd did not define the guest migrated with --persistent:\n%s", out)
	}
	move(libvirtdURI, uri, "--unsafe --persistent --undefinesource")
	if out, _, _ := virsh(t, uri, "dominfo "+name); !strings.Contains(out, "Persistent:     yes") {
		t.Errorf("govirtd did not define the guest migrated with --persistent:\n%s", out)
	}
	if _, _, rc := virsh(t, libvirtdURI, "dominfo "+name); rc == 0 {
		t.Errorf("--undefinesource left %s defined on libvirtd", name)
	}
	mustVirsh(t, uri, "destroy "+name)
	mustVirsh(t, uri, "undefine "+name)
}

// lvMoveTunnel is lvMove for --p2p --tunnelled, which refuses
// --migrateuri: the stream needs no port.
func lvMoveTunnel(t *testing.T, d *daemon, fromURI, toURI, name, flags, sock, next string) {
	t.Helper()
	doc, errOut, rc := virsh(t, fromURI, "dumpxml --migratable "+name)
	if rc != 0 {
		t.Fatalf("dumpxml: %s", errOut)
	}
	path := writeXML(t, filepath.Base(next)+"-dest", strings.Replace(doc, sock, next, 1))
	cmd := fmt.Sprintf("migrate --live --p2p --tunnelled %s %s %s --xml %s", flags, name, toURI, path)
	out, errOut, rc := virsh(t, fromURI, cmd)
	if rc != 0 {
		t.Fatalf("virsh %s: rc=%d %s%s\ngovirtd:\n%s", cmd, rc, out, errOut, tail(d.Log(), 3000))
	}
	st := libvirtdState(t, name)
	if toURI != libvirtdURI {
		st = domState(t, d, name)
	}
	if st != "running (migrated)" {
		t.Fatalf("after virsh %s: %q", cmd, st)
	}
	if _, _, rc := virsh(t, fromURI, "domstate "+name); rc == 0 {
		t.Fatalf("%s still on the source after virsh %s", name, cmd)
	}
}
