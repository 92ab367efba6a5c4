package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"govirt/testguest"
)

// liveCPU is the <cpu> element of a guest's live XML.
func liveCPU(t *testing.T, uri, name string, flags string) string {
	t.Helper()
	doc := mustVirsh(t, uri, "dumpxml "+flags+" "+name)
	m := regexp.MustCompile(`(?s)  <cpu .*?</cpu>\n|  <cpu[^>]*/>\n`).FindString(doc)
	if m == "" {
		t.Fatalf("no <cpu> in the XML of %s on %s:\n%s", name, uri, doc)
	}
	return m
}

// TestQEMUMigrateLibvirtdHostModel migrates a TCG guest with
// <cpu mode='host-model'/> govirtd -> libvirtd 9.0 -> govirtd (issue 18).
// The source's Begin cookie carries the guest's live CPU (<cpu> in
// <qemu-migration>, libvirt's QEMU_MIGRATION_COOKIE_CPU) and the
// destination starts QEMU with it, keeping the Begin XML's CPU as the one
// the guest was started with: the live CPU XML and the migratable XML are
// the same on each side after each leg.
func TestQEMUMigrateLibvirtdHostModel(t *testing.T) {
	d, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvmig-cpu-%d", os.Getpid())
	t.Cleanup(func() {
		virsh(t, libvirtdURI, "destroy", name)
		virsh(t, libvirtdURI, "undefine", name)
	})
	image := filepath.Join(dir, "disk.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	sock := filepath.Join(dir, "con0")
	doc := migrateGuestXML(t, name, image, sock)
	doc = strings.Replace(doc, "<domain type='kvm'>", "<domain type='qemu'>", 1)
	doc = strings.Replace(doc, "  <devices>\n", "  <cpu mode='host-model'/>\n  <devices>\n", 1)
	mustVirsh(t, uri, "create "+writeXML(t, name, doc))
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	want := guestWrite(t, con, "/dev/vda", 17, 1024)
	live := liveCPU(t, uri, name, "")
	mig := liveCPU(t, uri, name, "--migratable")
	if !strings.Contains(live, "mode='custom'") {
		t.Fatalf("govirtd's live host-model CPU is not expanded:\n%s", live)
	}
	legs := []struct{ from, to string }{{uri, libvirtdURI}, {libvirtdURI, uri}}
	for i, l := range legs {
		next := filepath.Join(dir, fmt.Sprintf("con%d", i+1))
		lvMove(t, d, l.from, l.to, name, "--unsafe", sock, next, "", "")
		sock = next
		if got := liveCPU(t, l.to, name, ""); got != live {
			t.Errorf("leg %d: live CPU on %s:\n%s\nwant (the source's before the first leg):\n%s", i+1, l.to, got, live)
		}
		if got := liveCPU(t, l.to, name, "--migratable"); got != mig {
			t.Errorf("leg %d: migratable CPU on %s:\n%s\nwant:\n%s", i+1, l.to, got, mig)
		}
		if got := guestSum(t, console(t, sock), "/dev/vda", 1024); got != want {
			t.Fatalf("leg %d: disk data: %s, want %s", i+1, got, want)
		}
	}
	mustVirsh(t, uri, "destroy "+name)
}
