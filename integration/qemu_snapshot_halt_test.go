package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQEMUSnapshotDiskOnlyHalt: snapshot-create-as --disk-only --halt
// takes the external snapshot and then stops the guest "from snapshot",
// as libvirt's qemuSnapshotCreateActiveExternal; a transient guest is
// refused with libvirt's message.
func TestQEMUSnapshotDiskOnlyHalt(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	img := filepath.Join(dir, "halt.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	defineDiskGuest(t, d, "halt", img, "qcow2")
	mustVirsh(t, uri, "start halt --paused")
	mustVirsh(t, uri, "snapshot-create-as halt s1 --disk-only --halt --no-metadata --diskspec vda,file="+filepath.Join(dir, "halt.s1"))
	if st := strings.TrimSpace(mustVirsh(t, uri, "domstate halt --reason")); st != "shut off (from snapshot)" {
		t.Fatalf("state after --halt: %q", st)
	}
	if x := mustVirsh(t, uri, "dumpxml halt --inactive"); !strings.Contains(x, filepath.Join(dir, "halt.s1")) {
		t.Fatalf("definition does not name the overlay:\n%s", x)
	}

	// A transient guest cannot be halted after its snapshot.
	x := mustVirsh(t, uri, "dumpxml halt --inactive")
	mustVirsh(t, uri, "undefine halt")
	mustVirsh(t, uri, "create "+writeTemp(t, "halt.xml", x)+" --paused")
	_, stderr, rc := virsh(t, uri, strings.Fields("snapshot-create-as halt s2 --disk-only --halt --no-metadata --diskspec vda,file="+filepath.Join(dir, "halt.s2"))...)
	if rc == 0 || !strings.Contains(stderr, "cannot halt after transient domain snapshot") {
		t.Fatalf("transient --halt: rc=%d stderr=%s", rc, stderr)
	}
	mustVirsh(t, uri, "destroy halt")
}
