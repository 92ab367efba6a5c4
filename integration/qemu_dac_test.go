package integration

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"govirt/testguest"
)

// The DAC tests run QEMU as nobody:nogroup (uid and gid 65534), chosen by
// the test itself; nothing depends on the install step's user.
const dacUID = 65534

// dacSetup is a daemon confined to dacUID, and a directory every guest
// file lives in, reachable by that user: the test guest's kernel and
// initrd copied there (the shared cache is root's), root-owned images.
type dacSetup struct {
	d              *daemon
	dir            string
	kernel, initrd string
}

func newDACSetup(t *testing.T, extraConf string) *dacSetup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	kernel, initrd := testguest.Ensure(t)
	dir, err := os.MkdirTemp("", "gvdac")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	s := &dacSetup{dir: dir, kernel: filepath.Join(dir, "vmlinuz"), initrd: filepath.Join(dir, "initrd")}
	copyFile(t, kernel, s.kernel, 0o644)
	copyFile(t, initrd, s.initrd, 0o644)
	cfg := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(cfg, []byte(fmt.Sprintf("user = \"+%d\"\ngroup = \"+%d\"\n%s", dacUID, dacUID, extraConf)), 0o600)
	s.d = startDaemon(t, "--config", cfg)
	// The daemon's own temp directory must be reachable by QEMU's user.
	os.Chmod(s.d.dir, 0o711)
	t.Cleanup(func() { killGuests(s.d) })
	return s
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// image creates a root-owned 0600 qcow2 image (over backing when set).
func (s *dacSetup) image(t *testing.T, name, backing string) string {
	t.Helper()
	p := filepath.Join(s.dir, name)
	args := []string{"create", "-q", "-f", "qcow2"}
	if backing != "" {
		args = append(args, "-F", "qcow2", "-b", backing)
	}
	args = append(args, p, "16M")
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	os.Chmod(p, 0o600)
	return p
}

// start defines and starts a guest on the given qcow2 disk with an empty
// CD-ROM drive, free PCIe ports and a serial console on a socket that
// QEMU creates in a directory of its user's; it returns the console.
func (s *dacSetup) start(t *testing.T, name, disk string) *testguest.Console {
	t.Helper()
	conDir := filepath.Join(s.dir, "con")
	os.Mkdir(conDir, 0o755)
	os.Chown(conDir, dacUID, dacUID)
	sock := filepath.Join(conDir, name)
	devs := fmt.Sprintf(`    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <controller type='scsi' model='virtio-scsi'/>
%s`, disk, sock, hotplugPorts)
	xml := testGuestXML(t, name, "", devs)
	k, i := testguest.Ensure(t)
	xml = strings.Replace(strings.Replace(xml, k, s.kernel, 1), i, s.initrd, 1)
	// nobody is not in the kvm group: TCG even where KVM works.
	xml = strings.Replace(xml, "<domain type='kvm'>", "<domain type='qemu'>", 1)
	p := filepath.Join(s.dir, name+".xml")
	os.WriteFile(p, []byte(xml), 0o644)
	mustVirsh(t, s.d.URI("qemu"), "define "+p)
	mustVirsh(t, s.d.URI("qemu"), "start "+name)
	con := console(t, sock)
	waitState(t, s.d, name, "running (booted)", 20*time.Second)
	return con
}

// owner is a file's uid:gid.
func owner(t *testing.T, p string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

func xattr(p, name string) string {
	buf := make([]byte, 128)
	n, err := syscall.Getxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func wantOwner(t *testing.T, what, p, want string) {
	t.Helper()
	if got := owner(t, p); got != want {
		t.Errorf("%s %s: owner %s, want %s", what, filepath.Base(p), got, want)
	}
}

// procStatusFields reads the fields of /proc/PID/status.
func procStatusFields(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// TestQEMUDACConfinement: with user/group set, QEMU runs as that user
// with no capabilities and no_new_privs; it cannot open a root-owned
// file it was not given while its own images work; the images, kernel
// and initrd are given to it at start and come back at stop (owners
// remembered in libvirt's xattrs), also across a daemon restart and for
// a backing image two guests share, stopped in either order.
func TestQEMUDACConfinement(t *testing.T) {
	s := newDACSetup(t, "")
	uri := s.d.URI("qemu")
	base := s.image(t, "base.qcow2", "")
	top1 := s.image(t, "top1.qcow2", base)
	top2 := s.image(t, "top2.qcow2", base)
	secret := filepath.Join(s.dir, "secret.img")
	os.WriteFile(secret, make([]byte, 1<<20), 0o600)
	nobody := fmt.Sprintf("%d:%d", dacUID, dacUID)

	s.start(t, "daca", top1)
	pid := guestPID(t, s.d, "daca")
	st := procStatusFields(t, pid)
	if u := st["Uid"]; u != "65534 65534 65534 65534" {
		t.Errorf("QEMU Uid %q", u)
	}
	if g := st["Gid"]; g != "65534 65534 65534 65534" {
		t.Errorf("QEMU Gid %q", g)
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"} {
		if st[k] != "0000000000000000" {
			t.Errorf("QEMU %s %s", k, st[k])
		}
	}
	if st["NoNewPrivs"] != "1" {
		t.Errorf("QEMU NoNewPrivs %q", st["NoNewPrivs"])
	}
	wantOwner(t, "running, top", top1, nobody)
	wantOwner(t, "running, backing", base, nobody)
	wantOwner(t, "running, kernel", s.kernel, nobody)
	if v := xattr(top1, "trusted.libvirt.security.dac"); v != "+0:+0" {
		t.Errorf("remembered owner of top1: %q", v)
	}
	if v := xattr(top1, "trusted.libvirt.security.ref_dac"); v != "1" {
		t.Errorf("refcount of top1: %q", v)
	}
	// The guest's cgroup lists only its devices.
	if _, err := os.Stat("/sys/fs/cgroup/devices/devices.list"); err == nil {
		id := strings.TrimSpace(mustVirsh(t, uri, "domid daca"))
		list := readCg(t, filepath.Join(cgroupDir("devices", id, "daca"), "devices.list"))
		for _, want := range []string{"c 1:3 rw", "c 1:9 rw", "c 136:* rw", "c 5:2 rw"} {
			if !strings.Contains(list, want) {
				t.Errorf("devices.list lacks %q:\n%s", want, list)
			}
		}
		if strings.Contains(list, "a *:* rwm") {
			t.Errorf("devices.list allows everything:\n%s", list)
		}
	}
	live := mustVirsh(t, uri, "dumpxml daca")
	if !strings.Contains(live, "<seclabel type='dynamic' model='dac' relabel='yes'>") ||
		!strings.Contains(live, "<label>+65534:+65534</label>") || !strings.Contains(live, "<imagelabel>+65534:+65534</imagelabel>") {
		t.Errorf("live XML lacks the DAC seclabel:\n%s", live)
	}

	// QEMU itself cannot open what it was not given.
	out, errOut, _ := virsh(t, uri, "qemu-monitor-command", "daca",
		fmt.Sprintf(`{"execute":"blockdev-add","arguments":{"driver":"file","node-name":"stolen","filename":"%s","read-only":true}}`, secret))
	if !strings.Contains(out+errOut, "Permission denied") {
		t.Errorf("blockdev-add of a root-owned 0600 file: %s %s", out, errOut)
	}
	// Its own image opens (a second read-only node; locking off, as the
	// running disk holds the image's locks).
	out, errOut, rc := virsh(t, uri, "qemu-monitor-command", "daca",
		fmt.Sprintf(`{"execute":"blockdev-add","arguments":{"driver":"file","node-name":"own","filename":"%s","read-only":true,"locking":"off"}}`, top1))
	if rc != 0 || strings.Contains(out, "error") {
		t.Errorf("blockdev-add of the guest's own image: %s %s", out, errOut)
	}

	// A second guest on the same backing image.
	s.start(t, "dacb", top2)
	if v := xattr(s.kernel, "trusted.libvirt.security.ref_dac"); v != "2" {
		t.Errorf("kernel refcount with two guests: %q", v)
	}
	mustVirsh(t, uri, "destroy daca")
	wantOwner(t, "after destroy, top", top1, "0:0")
	if v := xattr(top1, "trusted.libvirt.security.dac"); v != "" {
		t.Errorf("xattr left on top1: %q", v)
	}
	wantOwner(t, "other guest running, backing", base, nobody)
	wantOwner(t, "other guest running, kernel", s.kernel, nobody)
	// A daemon restart in between: the owners are in the files.
	s.d.crashRestart()
	waitState(t, s.d, "dacb", "running (booted)", 20*time.Second)
	mustVirsh(t, uri, "destroy dacb")
	wantOwner(t, "after restart and destroy, top", top2, "0:0")
	wantOwner(t, "both stopped, kernel", s.kernel, "0:0")
	wantOwner(t, "both stopped, initrd", s.initrd, "0:0")
	if v := xattr(s.kernel, "trusted.libvirt.security.ref_dac"); v != "" {
		t.Errorf("xattr left on the kernel: %q", v)
	}
	// As libvirt, a backing image stays with QEMU's user: other guests
	// (or ones started without relabelling) may still read it.
	wantOwner(t, "both stopped, backing", base, nobody)

	// The other order: the second guest stops first.
	s.start(t, "daca2", top1)
	s.start(t, "dacb2", top2)
	mustVirsh(t, uri, "destroy dacb2")
	wantOwner(t, "first guest still running, its top", top1, nobody)
	wantOwner(t, "first guest still running, kernel", s.kernel, nobody)
	wantOwner(t, "stopped guest's top", top2, "0:0")
	mustVirsh(t, uri, "destroy daca2")
	wantOwner(t, "both stopped, top1", top1, "0:0")
	wantOwner(t, "both stopped, kernel", s.kernel, "0:0")
}

// TestQEMUDACHotplugJobs: with QEMU confined, a hot-plugged disk, a new
// CD-ROM medium, a snapshot overlay and a block copy destination are
// given to QEMU's user before QEMU opens them, and come back to their
// owner when QEMU lets go of them (unplug, eject, pivot, stop).
func TestQEMUDACHotplugJobs(t *testing.T) {
	s := newDACSetup(t, "")
	uri := s.d.URI("qemu")
	nobody := fmt.Sprintf("%d:%d", dacUID, dacUID)
	top := s.image(t, "top.qcow2", "")
	// Nothing here needs the guest's help (a SCSI disk leaves at once),
	// so the test does not wait for it to boot.
	s.start(t, "dachp", top)

	hot := s.image(t, "hot.qcow2", "")
	mustVirsh(t, uri, "attach-disk dachp "+hot+" sdb --targetbus scsi --subdriver qcow2 --live")
	wantOwner(t, "hot-plugged", hot, nobody)
	if out := mustVirsh(t, uri, "detach-disk dachp sdb --live"); !strings.Contains(out, "Disk detached successfully") {
		t.Errorf("detach-disk: %s", out)
	}
	wantOwner(t, "unplugged", hot, "0:0")

	// A block device: its node is in the cgroup's list while plugged.
	if _, err := os.Stat("/sys/fs/cgroup/devices/devices.list"); err == nil {
		backing := filepath.Join(s.dir, "loop.img")
		os.WriteFile(backing, make([]byte, 8<<20), 0o600)
		out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
		if err != nil {
			t.Logf("no loop device: %v %s", err, out)
		} else {
			loop := strings.TrimSpace(string(out))
			t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
			var st syscall.Stat_t
			syscall.Stat(loop, &st)
			hostOwner := fmt.Sprintf("%d:%d", st.Uid, st.Gid)
			rule := fmt.Sprintf("b %d:%d rw", (st.Rdev>>8)&0xfff, st.Rdev&0xff|(st.Rdev>>12)&^0xff)
			id := strings.TrimSpace(mustVirsh(t, uri, "domid dachp"))
			listFile := filepath.Join(cgroupDir("devices", id, "dachp"), "devices.list")
			if strings.Contains(readCg(t, listFile), rule) {
				t.Errorf("%s allowed before it was plugged", rule)
			}
			mustVirsh(t, uri, "attach-disk dachp "+loop+" sdc --targetbus scsi --live")
			if list := readCg(t, listFile); !strings.Contains(list, rule) {
				t.Errorf("plugged %s: devices.list lacks %q:\n%s", loop, rule, list)
			}
			// With the private /dev (the default) the label goes on
			// QEMU's copy of the node; the host's keeps its owner.
			wantOwner(t, "plugged block device, QEMU's copy", fmt.Sprintf("/proc/%d/root%s", guestPID(t, s.d, "dachp"), loop), nobody)
			wantOwner(t, "plugged block device, the host's node", loop, hostOwner)
			mustVirsh(t, uri, "detach-disk dachp sdc --live")
			if list := readCg(t, listFile); strings.Contains(list, rule) {
				t.Errorf("unplugged %s: devices.list still has %q", loop, rule)
			}
			wantOwner(t, "unplugged block device", loop, hostOwner)
		}
	}

	cd := filepath.Join(s.dir, "cd.iso")
	os.WriteFile(cd, make([]byte, 1<<20), 0o600)
	mustVirsh(t, uri, "change-media dachp sda "+cd+" --insert --live")
	wantOwner(t, "inserted medium", cd, nobody)
	mustVirsh(t, uri, "change-media dachp sda --eject --live --force")
	// As libvirt, a read-only image is not given back: other guests
	// may be reading it.
	wantOwner(t, "ejected medium", cd, nobody)

	overlay := filepath.Join(s.dir, "overlay.qcow2")
	mustVirsh(t, uri, "snapshot-create-as dachp s1 --disk-only --no-metadata --diskspec vda,file="+overlay+" --diskspec sda,snapshot=no")
	wantOwner(t, "snapshot overlay", overlay, nobody)
	if v := xattr(overlay, "trusted.libvirt.security.dac"); v != "+0:+0" {
		t.Errorf("remembered owner of the overlay: %q", v)
	}

	dest := filepath.Join(s.dir, "copy.qcow2")
	mustVirsh(t, uri, "blockcopy dachp vda "+dest+" --format qcow2 --transient-job --pivot --wait")
	wantOwner(t, "block copy destination, pivoted", dest, nobody)
	// The overlay left the guest with the pivot (a full copy): its owner
	// is back.
	wantOwner(t, "overlay after the pivot", overlay, "0:0")
	mustVirsh(t, uri, "destroy dachp")
	wantOwner(t, "copy after destroy", dest, "0:0")
}

// TestQEMUDACNoDynamicOwnership: dynamic_ownership = 0 still runs QEMU as
// the user but leaves every file's owner alone (so the image must be
// readable and writable by that user already).
func TestQEMUDACNoDynamicOwnership(t *testing.T) {
	s := newDACSetup(t, "dynamic_ownership = 0\n")
	img := s.image(t, "open.qcow2", "")
	os.Chmod(img, 0o666)
	s.start(t, "dacnd", img)
	st := procStatusFields(t, guestPID(t, s.d, "dacnd"))
	if st["Uid"] != "65534 65534 65534 65534" || st["CapEff"] != "0000000000000000" {
		t.Errorf("QEMU Uid %q CapEff %q", st["Uid"], st["CapEff"])
	}
	wantOwner(t, "dynamic_ownership = 0, image", img, "0:0")
	wantOwner(t, "dynamic_ownership = 0, kernel", s.kernel, "0:0")
	if v := xattr(img, "trusted.libvirt.security.ref_dac"); v != "" {
		t.Errorf("refcount written with dynamic_ownership = 0: %q", v)
	}
	mustVirsh(t, s.d.URI("qemu"), "destroy dacnd")
	wantOwner(t, "dynamic_ownership = 0, after destroy", img, "0:0")
}
