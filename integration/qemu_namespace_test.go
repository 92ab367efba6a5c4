package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"govirt/internal/cgroup"
	"govirt/testguest"
)

// loopDevice attaches a new loop device to a fresh file of size bytes
// (skipping the test where losetup does not work) and detaches it at
// the end.
func newLoopDevice(t *testing.T, dir, name string, size int) (dev, backing string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	backing = filepath.Join(dir, name)
	if err := os.WriteFile(backing, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: %v %s", err, out)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev, backing
}

// nsDevList lists QEMU's /dev as QEMU sees it (its root through /proc).
func nsDevList(t *testing.T, pid int) []string {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/root/dev", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// hostDevSubmounts are the top-level names of the mounts below the
// host's /dev, which the private /dev keeps.
func hostDevSubmounts(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], "/dev/") {
			top := strings.SplitN(strings.TrimPrefix(f[4], "/dev/"), "/", 2)[0]
			if !seen[top] {
				seen[top] = true
				out = append(out, top)
			}
		}
	}
	return out
}

func statT(t *testing.T, p string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestQEMUPrivateDev: by default (libvirt's namespaces = ["mount"] for a
// root daemon) QEMU's /dev holds only the default ACL's nodes, the
// mounts kept from the host (/dev/pts, /dev/shm) and its disks' block
// devices, with the host's owners and modes; the guest boots, its
// console and a pty serial work and its disk on a loop device takes
// writes; a hot-plugged loop device appears in QEMU's /dev and goes on
// unplug; namespaces = [] keeps the host's /dev.
func TestQEMUPrivateDev(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	loop, backing := newLoopDevice(t, dir, "disk.img", 8<<20)
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	sock := defineGuestDevices(t, d, "pdev", fmt.Sprintf(`<disk type='block' device='disk'>
  <driver name='qemu' type='raw'/>
  <source dev='%s'/>
  <target dev='vda' bus='virtio'/>
</disk>
<serial type='pty'><target port='1'/></serial>
<controller type='scsi' model='virtio-scsi'/>
%s`, loop, hotplugPorts))
	con := bootGuest(t, d, "pdev", sock)
	pid := guestPID(t, d, "pdev")

	want := []string{}
	for _, n := range []string{"null", "full", "zero", "random", "urandom", "ptmx", "kvm"} {
		if _, err := os.Stat("/dev/" + n); err == nil {
			want = append(want, n)
		}
	}
	want = append(want, hostDevSubmounts(t)...)
	want = append(want, filepath.Base(loop))
	sort.Strings(want)
	got := nsDevList(t, pid)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("QEMU's /dev: %v\nwant %v", got, want)
	}
	for _, n := range []string{"null", "kvm", "ptmx", filepath.Base(loop)} {
		host, err := os.Stat("/dev/" + n)
		if err != nil {
			continue
		}
		h := statT(t, "/dev/"+n)
		g := statT(t, fmt.Sprintf("/proc/%d/root/dev/%s", pid, n))
		if h.Rdev != g.Rdev || h.Mode != g.Mode || h.Uid != g.Uid || h.Gid != g.Gid {
			t.Errorf("/dev/%s: QEMU's copy rdev %x mode %o owner %d:%d, host's rdev %x mode %o owner %d:%d (%v)",
				n, g.Rdev, g.Mode, g.Uid, g.Gid, h.Rdev, h.Mode, h.Uid, h.Gid, host.Mode())
		}
	}
	// A root QEMU has the device allow-list too (libvirt applies it
	// whatever the user).
	if _, err := os.Stat("/sys/fs/cgroup/devices/devices.list"); err == nil {
		id := strings.TrimSpace(mustVirsh(t, uri, "domid pdev"))
		list := readCg(t, filepath.Join(cgroupDir("devices", id, "pdev"), "devices.list"))
		for _, w := range []string{"c 1:3 rw", "c 136:* rw", "c 5:2 rw"} {
			if !strings.Contains(list, w) {
				t.Errorf("devices.list lacks %q:\n%s", w, list)
			}
		}
		if strings.Contains(list, "a *:* rwm") {
			t.Errorf("devices.list of a root QEMU allows everything:\n%s", list)
		}
	}
	// The host's /dev is untouched and the daemon's namespace is not
	// QEMU's.
	if self, _ := os.Readlink("/proc/self/ns/mnt"); self == "" {
		t.Fatal("no mount namespace link")
	} else if theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); theirs == self {
		t.Errorf("QEMU shares the host's mount namespace")
	}
	// The pty serial port works: QEMU opened /dev/ptmx and its pts.
	xml := mustVirsh(t, uri, "dumpxml pdev")
	if !strings.Contains(xml, "<source path='/dev/pts/") {
		t.Errorf("no pty in the live XML:\n%s", xml)
	}
	// The guest writes its disk (the loop device), which reaches the file.
	con.Send("gv-write /dev/vda 5 64")
	if _, err := con.Expect("GV-WRITE /dev/vda", 60*time.Second); err != nil {
		t.Fatalf("gv-write: %v", err)
	}
	exec.Command("blockdev", "--flushbufs", loop).Run()
	data, _ := os.ReadFile(backing)
	if !bytes.Contains(data[:4096], []byte("GOVIRT-PATTERN-5-")) {
		t.Errorf("the guest's write did not reach the loop device's file")
	}

	// Hot-plug: a second loop device appears in QEMU's /dev, the guest
	// sees the disk, and unplug takes the node away.
	loop2, _ := newLoopDevice(t, dir, "hot.img", 4<<20)
	name2 := filepath.Base(loop2)
	if has(nsDevList(t, pid), name2) {
		t.Fatalf("%s in QEMU's /dev before it was plugged", name2)
	}
	mustVirsh(t, uri, "attach-disk pdev "+loop2+" vdb --targetbus virtio --live")
	if !has(nsDevList(t, pid), name2) {
		t.Errorf("plugged %s is not in QEMU's /dev: %v", loop2, nsDevList(t, pid))
	}
	guestBlockDevs(t, con, "vdb", true)
	if out := mustVirsh(t, uri, "detach-disk pdev vdb --live"); !strings.Contains(out, "Disk detached successfully") {
		t.Errorf("detach-disk: %s", out)
	}
	guestBlockDevs(t, con, "vdb", false)
	waitUntil(t, 10*time.Second, func() bool { return !has(nsDevList(t, pid), name2) }, "unplugged node to leave QEMU's /dev")
	if !has(nsDevList(t, pid), filepath.Base(loop)) {
		t.Errorf("the boot disk's node left with the unplugged one")
	}

	// A restarted daemon still changes the namespace.
	d.crashRestart()
	waitState(t, d, "pdev", "running (booted)", 20*time.Second)
	mustVirsh(t, uri, "attach-disk pdev "+loop2+" sda --targetbus scsi --live")
	if !has(nsDevList(t, pid), name2) {
		t.Errorf("plugged after a restart: %s is not in QEMU's /dev", loop2)
	}
	mustVirsh(t, uri, "destroy pdev")
}

// TestQEMUPrivateDevOff: namespaces = [] leaves QEMU in the host's mount
// namespace.
func TestQEMUPrivateDevOff(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cfg := filepath.Join(t.TempDir(), "govirtd.conf")
	os.WriteFile(cfg, []byte("namespaces = []\n"), 0o600)
	d := startDaemon(t, "--config", cfg)
	t.Cleanup(func() { killGuests(d) })
	sock := defineGuestDevices(t, d, "nons", "")
	bootGuest(t, d, "nons", sock)
	pid := guestPID(t, d, "nons")
	self, _ := os.Readlink("/proc/self/ns/mnt")
	if theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); theirs != self {
		t.Errorf("namespaces = []: QEMU has its own mount namespace")
	}
	mustVirsh(t, d.URI("qemu"), "destroy nons")
	_ = testguest.ReadyMarker
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func waitUntil(t *testing.T, d time.Duration, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestQEMUDeviceACLV2: a guest whose QEMU runs as root (no user
// configured) gets the device allow-list too, here on cgroup v2 as a BPF
// program (GOVIRT_CGROUP_V2_DEVICES moves a hybrid host's devices
// controller to v2; namespaces = [] so that only the cgroup stands
// between QEMU and the host's /dev): the guest boots and its console
// works, QEMU cannot open a block device it was not given, a
// hot-plugged one is allowed while plugged, and a restarted daemon
// still updates the list.
func TestQEMUDeviceACLV2(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	h, err := cgroup.Detect()
	if err != nil || !h.UseV2Devices() {
		t.Skip("no cgroup v2 device programs here")
	}
	dir := t.TempDir()
	loop, _ := newLoopDevice(t, dir, "other.img", 4<<20)
	var st syscall.Stat_t
	syscall.Stat(loop, &st)
	rule := fmt.Sprintf("b %d:%d rw", st.Rdev>>8&0xfff, st.Rdev&0xff|st.Rdev>>12&^0xff)
	cfg := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(cfg, []byte("namespaces = []\n"), 0o600)
	d := startDaemonEnv(t, []string{"GOVIRT_CGROUP_V2_DEVICES=1"}, "--config", cfg)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	sock := defineGuestDevices(t, d, "acl2", "<serial type='pty'><target port='1'/></serial>\n"+hotplugPorts)
	con := bootGuest(t, d, "acl2", sock)
	id := strings.TrimSpace(mustVirsh(t, uri, "domid acl2"))
	list := func() string {
		g := h.Open("/machine/qemu-" + id + "-acl2.libvirt-qemu")
		l, err := g.DeviceList()
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := list()
	for _, want := range []string{"c 1:3 rw", "c 1:9 rw", "c 136:* rw", "c 5:2 rw"} {
		if !strings.Contains(l, want) {
			t.Errorf("device map lacks %q:\n%s", want, l)
		}
	}
	if strings.Contains(l, rule) || strings.Contains(l, "a *:* rwm") {
		t.Errorf("device map allows too much:\n%s", l)
	}
	out, errOut, _ := virsh(t, uri, "qemu-monitor-command", "acl2",
		fmt.Sprintf(`{"execute":"blockdev-add","arguments":{"driver":"host_device","node-name":"stolen","filename":"%s","read-only":true}}`, loop))
	if !strings.Contains(out+errOut, "Operation not permitted") {
		t.Errorf("blockdev-add of a device not given: %s %s", out, errOut)
	}
	mustVirsh(t, uri, "attach-disk acl2 "+loop+" vdb --targetbus virtio --live")
	if l := list(); !strings.Contains(l, rule) {
		t.Errorf("plugged %s: map lacks %q:\n%s", loop, rule, l)
	}
	guestBlockDevs(t, con, "vdb", true)
	mustVirsh(t, uri, "detach-disk acl2 vdb --live")
	guestBlockDevs(t, con, "vdb", false)
	if l := list(); strings.Contains(l, rule) {
		t.Errorf("unplugged %s: map still has %q", loop, rule)
	}
	// A restarted daemon takes the attached program over.
	d.crashRestart()
	waitState(t, d, "acl2", "running (booted)", 20*time.Second)
	mustVirsh(t, uri, "attach-disk acl2 "+loop+" vdb --targetbus virtio --live")
	if l := list(); !strings.Contains(l, rule) {
		t.Errorf("plugged after a restart: map lacks %q:\n%s", rule, l)
	}
	guestBlockDevs(t, con, "vdb", true)
	mustVirsh(t, uri, "destroy acl2")
}
