package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/testguest"
)

// TestQEMUMigrateLibvirtdSpice migrates a guest with a SPICE display
// govirtd -> libvirtd 9.0 -> govirtd (issue 18). Each destination's
// Prepare cookie describes its SPICE server (<graphics type='spice'
// port listen tlsPort>, libvirt's QEMU_MIGRATION_COOKIE_GRAPHICS), which
// the other daemon must parse (a malformed element fails its Perform);
// the source hands it to its QEMU (client_migrate_info) and its Confirm
// waits for QEMU's SPICE_MIGRATE_COMPLETED: govirtd logs neither a
// failed relocation nor a missing event. The guest answers on its
// console after each leg.
func TestQEMUMigrateLibvirtdSpice(t *testing.T) {
	d, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvmig-spice-%d", os.Getpid())
	t.Cleanup(func() {
		virsh(t, libvirtdURI, "destroy", name)
		virsh(t, libvirtdURI, "undefine", name)
	})
	image := filepath.Join(dir, "disk.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	sock := filepath.Join(dir, "con0")
	doc := migrateGuestXML(t, name, image, sock)
	doc = strings.Replace(doc, "<graphics type='vnc' listen='127.0.0.1' autoport='yes'/>", "<graphics type='spice' listen='127.0.0.1' autoport='yes'/>", 1)
	if !strings.Contains(doc, "type='spice'") {
		t.Fatal("no SPICE display in the test guest")
	}
	mustVirsh(t, uri, "create "+writeXML(t, name, doc))
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	want := guestWrite(t, con, "/dev/vda", 19, 1024)
	legs := []struct{ from, to string }{{uri, libvirtdURI}, {libvirtdURI, uri}, {uri, libvirtdURI}}
	for i, l := range legs {
		next := filepath.Join(dir, fmt.Sprintf("con%d", i+1))
		flags := "--unsafe"
		if i == 2 {
			flags += " --p2p"
		}
		lvMove(t, d, l.from, l.to, name, flags, sock, next, "", "")
		sock = next
		if got := guestSum(t, console(t, sock), "/dev/vda", 1024); got != want {
			t.Fatalf("leg %d: disk data: %s, want %s", i+1, got, want)
		}
		if doc := mustVirsh(t, l.to, "dumpxml "+name); !strings.Contains(doc, "<graphics type='spice'") {
			t.Errorf("leg %d: no SPICE display on the destination:\n%s", i+1, doc)
		}
	}
	log := d.Log()
	if !strings.Contains(log, "SPICE clients told where the destination listens") {
		t.Errorf("govirtd did not relocate the SPICE clients from libvirtd's cookie:\n%s", tail(log, 3000))
	}
	for _, bad := range []string{"unable to provide data for graphics client relocation", "no SPICE_MIGRATE_COMPLETED"} {
		if strings.Contains(log, bad) {
			t.Errorf("govirtd logged %q:\n%s", bad, tail(log, 3000))
		}
	}
	mustVirsh(t, libvirtdURI, "destroy "+name)
}
