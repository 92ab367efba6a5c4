package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govirt/testguest"
)

// qcow2Snaps is the internal snapshot tags qemu-img lists in an image.
func qcow2Snaps(t *testing.T, image string) []string {
	t.Helper()
	out := qemuImg(t, "snapshot", "-U", "-l", image)
	var tags []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] != "ID" && f[0] != "Snapshot" {
			tags = append(tags, f[1])
		}
	}
	return tags
}

// defineSnapGuest defines the test guest on a qcow2 image, with its
// serial console on a socket and no display (a VNC port is one more
// thing a busy host may not have free).
func defineSnapGuest(t *testing.T, d *daemon, name, image string) string {
	t.Helper()
	sock := filepath.Join(d.dir, name+".console")
	doc := testGuestXML(t, name, "", fmt.Sprintf(`    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
`, image, sock))
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
	return sock
}

// reconnect opens the console of a guest whose QEMU was restarted by a
// revert; the guest does not boot, it goes on from the snapshot, so the
// shell is there without a ready marker.
func reconnect(t *testing.T, sock string) *testguest.Console {
	t.Helper()
	return console(t, sock)
}

// TestQEMUSnapshotInternal takes internal snapshots of a guest on a qcow2
// disk, running (QEMU's snapshot-save: disks and memory) and shut off
// (qemu-img snapshot -c), writes in the guest, reverts (running, paused,
// shut off, --running) and checks inside the guest that what it wrote
// after the snapshot is gone; the snapshots survive a daemon restart and
// are deleted from the image (snapshot-delete job, qemu-img snapshot -d).
// libvirt's refusals come with its errors.
func TestQEMUSnapshotInternal(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "64M")
	sock := defineSnapGuest(t, d, "isn1", img)
	con := bootDiskGuest(t, d, "isn1", sock)
	guestWrite(t, con, "/dev/vda", 1, 1024)
	sumA := layered(1024, [2]int{1, 1024})

	// Refusals first, as libvirt 9.0 words them.
	wantErr(t, uri, "snapshot-create-as isn1 x --memspec snapshot=no", "internal snapshot of a running VM must include the memory state")
	wantErr(t, uri, "snapshot-create-as isn1 x --diskspec vda,snapshot=external", "disk 'vda' must use snapshot mode 'internal'")
	wantErr(t, uri, "snapshot-create-as isn1 x --live", "live snapshot creation is supported only during full system snapshots")
	wantErr(t, uri, "snapshot-create-as isn1 x --memspec snapshot=internal --diskspec vda,snapshot=no", "disk 'vda' must use snapshot mode 'internal'")

	if out := mustVirsh(t, uri, "snapshot-create-as isn1 s1 --description first"); !strings.Contains(out, "Domain snapshot s1 created") {
		t.Fatalf("snapshot-create-as: %s", out)
	}
	if out := mustVirsh(t, uri, "domstate isn1 --reason"); !strings.Contains(out, "running (unpaused)") {
		t.Errorf("domstate after snapshot: %s", out)
	}
	xml := mustVirsh(t, uri, "snapshot-dumpxml isn1 s1")
	for _, want := range []string{"<state>running</state>", "<memory snapshot='internal'/>", "<disk name='vda' snapshot='internal'/>",
		"<description>first</description>", "<inactiveDomain type=", "<source file='" + img + "'/>"} {
		if !strings.Contains(xml, want) {
			t.Errorf("snapshot-dumpxml lacks %q:\n%s", want, xml)
		}
	}
	if tags := qcow2Snaps(t, img); len(tags) != 1 || tags[0] != "s1" {
		t.Errorf("image snapshots %v", tags)
	}
	if got := snapNames(t, uri, "isn1", "--internal"); got != "s1" {
		t.Errorf("snapshot-list --internal: %q", got)
	}
	if got := snapNames(t, uri, "isn1", "--external"); got != "" {
		t.Errorf("snapshot-list --external: %q", got)
	}
	if got := snapNames(t, uri, "isn1", "--active"); got != "s1" {
		t.Errorf("snapshot-list --active: %q", got)
	}

	guestWrite(t, con, "/dev/vda", 2, 512)
	if out := mustVirsh(t, uri, "snapshot-revert isn1 s1"); !strings.Contains(out, "Domain snapshot s1 reverted") {
		t.Errorf("snapshot-revert: %q", out)
	}
	if out := mustVirsh(t, uri, "domstate isn1 --reason"); !strings.Contains(out, "running (from snapshot)") {
		t.Errorf("domstate after revert: %s", out)
	}
	con = reconnect(t, sock)
	if got := guestSum(t, con, "/dev/vda", 1024); got != sumA {
		t.Errorf("after revert to s1: %s, want %s", got, sumA)
	}

	// --paused: the guest waits, resumes where the snapshot was.
	guestWrite(t, con, "/dev/vda", 3, 256)
	mustVirsh(t, uri, "snapshot-revert isn1 s1 --paused")
	if out := mustVirsh(t, uri, "domstate isn1 --reason"); !strings.Contains(out, "paused (from snapshot)") {
		t.Errorf("domstate after revert --paused: %s", out)
	}
	mustVirsh(t, uri, "resume isn1")
	con = reconnect(t, sock)
	if got := guestSum(t, con, "/dev/vda", 1024); got != sumA {
		t.Errorf("after revert --paused: %s, want %s", got, sumA)
	}

	// Shut off: qemu-img takes and reverts the snapshot.
	guestWrite(t, con, "/dev/vda", 4, 768)
	sumC := layered(1024, [2]int{1, 1024}, [2]int{4, 768})
	mustVirsh(t, uri, "destroy isn1")
	mustVirsh(t, uri, "snapshot-create-as isn1 s2")
	xml = mustVirsh(t, uri, "snapshot-dumpxml isn1 s2")
	for _, want := range []string{"<state>shutoff</state>", "<memory snapshot='no'/>", "<disk name='vda' snapshot='internal'/>", "<name>s1</name>"} {
		if !strings.Contains(xml, want) {
			t.Errorf("snapshot-dumpxml s2 lacks %q:\n%s", want, xml)
		}
	}
	if strings.Contains(xml, "<inactiveDomain") {
		t.Errorf("shut-off snapshot has an inactiveDomain:\n%s", xml)
	}
	if tags := qcow2Snaps(t, img); strings.Join(tags, " ") != "s1 s2" {
		t.Errorf("image snapshots %v", tags)
	}

	// The metadata survives a daemon restart.
	d.crashRestart()
	if got := snapNames(t, uri, "isn1"); got != "s1 s2" {
		t.Errorf("after restart: %q", got)
	}
	if out := mustVirsh(t, uri, "snapshot-current isn1 --name"); strings.TrimSpace(out) != "s2" {
		t.Errorf("snapshot-current: %q", out)
	}

	con = bootDiskGuest(t, d, "isn1", sock)
	if got := guestSum(t, con, "/dev/vda", 1024); got != sumC {
		t.Errorf("boot after s2: %s, want %s", got, sumC)
	}
	guestWrite(t, con, "/dev/vda", 5, 1024)
	// Reverting a running guest to a shut-off snapshot stops it.
	mustVirsh(t, uri, "snapshot-revert isn1 s2")
	if out := mustVirsh(t, uri, "domstate isn1 --reason"); !strings.Contains(out, "shut off (from snapshot)") {
		t.Errorf("domstate after revert to s2: %s", out)
	}
	mustVirsh(t, uri, "snapshot-revert isn1 s2 --running")
	if out := mustVirsh(t, uri, "domstate isn1"); !strings.Contains(out, "running") {
		t.Errorf("domstate after revert --running: %s", out)
	}
	con = console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != sumC {
		t.Errorf("after revert --running to s2: %s, want %s", got, sumC)
	}

	// Delete: a running guest's through QEMU, then a shut-off one's.
	mustVirsh(t, uri, "snapshot-delete isn1 s1")
	if tags := qcow2Snaps(t, img); strings.Join(tags, " ") != "s2" {
		t.Errorf("image snapshots after deleting s1: %v", tags)
	}
	wantErr(t, uri, "snapshot-parent isn1 s2", "has no parent")
	mustVirsh(t, uri, "destroy isn1")
	mustVirsh(t, uri, "snapshot-delete isn1 s2")
	if tags := qcow2Snaps(t, img); len(tags) != 0 {
		t.Errorf("image snapshots after deleting s2: %v", tags)
	}
	if got := snapNames(t, uri, "isn1"); got != "" {
		t.Errorf("snapshots left: %q", got)
	}
}

// TestQEMUSnapshotVirtManager replays virt-manager's snapshot calls
// through python-libvirt on a running guest: snapshotCreateXML with the
// dialog's XML (name and description only: an internal snapshot with
// memory), listAllSnapshots with getXMLDesc and isCurrent,
// revertToSnapshot and delete; the guest's data after the revert is the
// snapshot's.
func TestQEMUSnapshotVirtManager(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	script := "testdata/python/virtmanager_snapshots.py"
	img := filepath.Join(t.TempDir(), "vm.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "64M")
	sock := defineSnapGuest(t, d, "vmm1", img)
	con := bootDiskGuest(t, d, "vmm1", sock)
	guestWrite(t, con, "/dev/vda", 7, 512)
	want := layered(512, [2]int{7, 512})

	if out := pythonStdout(t, script, uri, "vmm1", "create", "snapshot1", "before the update"); out[0] != "created snapshot1" {
		t.Fatalf("create: %q", out)
	}
	out := pythonStdout(t, script, uri, "vmm1", "list")
	if strings.Join(out, "\n") != "snapshot1 running internal vda:internal current before the update\nhas-current 1" {
		t.Errorf("list:\n%s", strings.Join(out, "\n"))
	}
	guestWrite(t, con, "/dev/vda", 8, 512)
	// state 1 (running), reason 4 (from snapshot)
	if out := pythonStdout(t, script, uri, "vmm1", "revert", "snapshot1"); out[0] != "reverted 1 4" {
		t.Errorf("revert: %q", out)
	}
	con = reconnect(t, sock)
	if got := guestSum(t, con, "/dev/vda", 512); got != want {
		t.Errorf("after revert: %s, want %s", got, want)
	}
	if out := pythonStdout(t, script, uri, "vmm1", "delete", "snapshot1"); out[0] != "deleted 0" {
		t.Errorf("delete: %q", out)
	}
	if tags := qcow2Snaps(t, img); len(tags) != 0 {
		t.Errorf("image snapshots after delete: %v", tags)
	}
}

// TestQEMUSnapshotMemory takes an external memory snapshot of a running
// guest as libvirt 9.0 does (snapshot-create-as --memspec --diskspec):
// the state goes to the memory file as a save image, the disk gets an
// overlay, the guest runs on; revert is refused with libvirt 9.0's error,
// mixing is refused, and deleting merges the overlay back.
func TestQEMUSnapshotMemory(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	img, ov, mem := filepath.Join(dir, "m.qcow2"), filepath.Join(dir, "m1.qcow2"), filepath.Join(dir, "m1.mem")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "64M")
	sock := defineSnapGuest(t, d, "msn1", img)
	con := bootDiskGuest(t, d, "msn1", sock)
	guestWrite(t, con, "/dev/vda", 1, 512)

	wantErr(t, uri, "snapshot-create-as msn1 x --memspec file="+mem+" --diskspec vda,snapshot=internal",
		"mixing internal and external targets for a snapshot is not yet supported")
	wantErr(t, uri, "snapshot-create-as msn1 x --memspec file=rel.mem", "memory snapshot file path (rel.mem) must be absolute")
	mustNotExist(t, mem)

	if out := mustVirsh(t, uri, "snapshot-create-as msn1 m1 --memspec file="+mem+" --diskspec vda,file="+ov); !strings.Contains(out, "Domain snapshot m1 created") {
		t.Fatalf("snapshot-create-as: %s", out)
	}
	if out := mustVirsh(t, uri, "domstate msn1 --reason"); !strings.Contains(out, "running (unpaused)") {
		t.Errorf("domstate: %s", out)
	}
	xml := mustVirsh(t, uri, "snapshot-dumpxml msn1 m1")
	for _, want := range []string{"<state>running</state>", "<memory snapshot='external' file='" + mem + "'/>",
		"<disk name='vda' snapshot='external' type='file'>", "<source file='" + ov + "'/>", "<cookie>"} {
		if !strings.Contains(xml, want) {
			t.Errorf("snapshot-dumpxml lacks %q:\n%s", want, xml)
		}
	}
	data, err := os.ReadFile(mem)
	if err != nil || !bytes.HasPrefix(data, []byte("GovirtQemuSave")) || len(data) < 1<<20 {
		t.Errorf("memory image: %d bytes, %v", len(data), err)
	}
	checkChain(t, d, "msn1", liveChain(t, d, "msn1", "vda"), ov, img)
	if got := snapNames(t, uri, "msn1", "--external"); got != "m1" {
		t.Errorf("snapshot-list --external: %q", got)
	}
	wantErr(t, uri, "snapshot-revert msn1 m1", "unsupported configuration: revert to external snapshot not supported yet")

	guestWrite(t, con, "/dev/vda", 2, 256)
	want := layered(512, [2]int{1, 512}, [2]int{2, 256})
	mustVirsh(t, uri, "snapshot-delete msn1 m1")
	mustNotExist(t, ov)
	checkChain(t, d, "msn1", liveChain(t, d, "msn1", "vda"), img)
	if got := guestSum(t, con, "/dev/vda", 512); got != want {
		t.Errorf("after delete: %s, want %s", got, want)
	}
}
