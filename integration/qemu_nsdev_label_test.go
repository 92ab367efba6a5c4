package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUPrivateDevLabels: with a private /dev, a confined guest's block
// devices are labelled as libvirt labels them, inside QEMU's namespace:
// QEMU's copy of the node belongs to QEMU's user, which opens it and
// writes the guest's disk, while the host's node keeps its owner at
// start, hot-plug, unplug and stop.
func TestQEMUPrivateDevLabels(t *testing.T) {
	s := newDACSetup(t, "")
	loop, backing := newLoopDevice(t, s.dir, "blk.img", 8<<20)
	hostOwner := owner(t, loop)
	if hostOwner == fmt.Sprintf("%d:%d", dacUID, dacUID) {
		t.Fatalf("the loop device already belongs to QEMU's user")
	}
	img := s.image(t, "root.qcow2", "")
	conDir := filepath.Join(s.dir, "con")
	os.Mkdir(conDir, 0o755)
	os.Chown(conDir, dacUID, dacUID)
	sock := filepath.Join(conDir, "nslbl")
	xml := testGuestXML(t, "nslbl", "", fmt.Sprintf(`    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='%s'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
%s`, img, loop, sock, hotplugPorts))
	k, i := testguest.Ensure(t)
	xml = strings.Replace(strings.Replace(xml, k, s.kernel, 1), i, s.initrd, 1)
	xml = strings.Replace(xml, "<domain type='kvm'>", "<domain type='qemu'>", 1)
	uri := s.d.URI("qemu")
	mustVirsh(t, uri, "define "+writeTemp(t, "nslbl.xml", xml))
	mustVirsh(t, uri, "start nslbl")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		t.Fatalf("nslbl did not boot: %v\n%s", err, s.d.Log())
	}
	pid := guestPID(t, s.d, "nslbl")
	qemuOwner := fmt.Sprintf("%d:%d", dacUID, dacUID)
	copyOf := func(dev string) string { return fmt.Sprintf("/proc/%d/root/dev/%s", pid, filepath.Base(dev)) }

	if got := owner(t, copyOf(loop)); got != qemuOwner {
		t.Errorf("QEMU's copy of %s belongs to %s, want QEMU's user %s", loop, got, qemuOwner)
	}
	if got := owner(t, loop); got != hostOwner {
		t.Errorf("the host's %s belongs to %s, want its own %s", loop, got, hostOwner)
	}
	// The image outside /dev is labelled on the host as before.
	if got := owner(t, img); got != qemuOwner {
		t.Errorf("the qcow2 image belongs to %s, want %s", got, qemuOwner)
	}
	// QEMU (not root, not in the node's group) opened its copy: the
	// guest's writes reach the loop device's file.
	con.Send("gv-write /dev/vdb 9 64")
	if _, err := con.Expect("GV-WRITE /dev/vdb", 60*time.Second); err != nil {
		t.Fatalf("gv-write: %v\n%s", err, con.Output())
	}
	exec.Command("blockdev", "--flushbufs", loop).Run()
	if data, _ := os.ReadFile(backing); !bytes.Contains(data[:4096], []byte("GOVIRT-PATTERN-9-")) {
		t.Errorf("the guest's write did not reach the loop device's file")
	}

	// Hot-plug: the new node's copy is QEMU's, the host's node is not.
	loop2, _ := newLoopDevice(t, s.dir, "hot.img", 4<<20)
	hostOwner2 := owner(t, loop2)
	mustVirsh(t, uri, "attach-disk nslbl "+loop2+" vdc --targetbus virtio --live")
	guestBlockDevs(t, con, "vdc", true)
	if got := owner(t, copyOf(loop2)); got != qemuOwner {
		t.Errorf("QEMU's copy of plugged %s belongs to %s, want %s", loop2, got, qemuOwner)
	}
	if got := owner(t, loop2); got != hostOwner2 {
		t.Errorf("plugged %s: the host's node belongs to %s, want %s", loop2, got, hostOwner2)
	}
	mustVirsh(t, uri, "detach-disk nslbl vdc --live")
	guestBlockDevs(t, con, "vdc", false)
	if got := owner(t, loop2); got != hostOwner2 {
		t.Errorf("unplugged %s: the host's node belongs to %s, want %s", loop2, got, hostOwner2)
	}

	mustVirsh(t, uri, "destroy nslbl")
	if got := owner(t, loop); got != hostOwner {
		t.Errorf("after destroy the host's %s belongs to %s, want %s", loop, got, hostOwner)
	}
	if got := owner(t, img); got != "0:0" {
		t.Errorf("after destroy the image belongs to %s, want its owner 0:0", got)
	}
}
