package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Logical (LVM) pools on a loop device, driven through real virsh.

// lvm runs an LVM tool for the test itself.
func lvm(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// needLVM skips unless the test can make volume groups: root, losetup
// and the LVM tools.
func needLVM(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("logical pools need root")
	}
	for _, tool := range []string{"losetup", "pvcreate", "vgcreate", "vgs", "lvs", "pvs", "vgremove", "pvremove", "lvcreate"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian lvm2)", tool)
		}
	}
}

// deviceMapperUsable tells whether LVM can activate logical volumes: the
// control node must open, not merely exist (containers often have the
// node without the kernel driver).
func deviceMapperUsable() bool {
	f, err := os.OpenFile("/dev/mapper/control", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// vgBytes reads a volume group's size and free space as vgs reports them.
func vgBytes(t *testing.T, vg string) (size, free uint64) {
	t.Helper()
	out, err := lvm("vgs", "--noheadings", "--units", "b", "--nosuffix", "--separator", ":", "-o", "vg_size,vg_free", vg)
	if err != nil {
		t.Fatalf("vgs %s: %v\n%s", vg, err, out)
	}
	f := strings.Split(strings.TrimSpace(out), ":")
	if len(f) != 2 {
		t.Fatalf("vgs output %q", out)
	}
	size, _ = strconv.ParseUint(f[0], 10, 64)
	free, _ = strconv.ParseUint(f[1], 10, 64)
	return size, free
}

// xmlValue returns the text of the first <elem ...>text</elem> in doc.
func xmlValue(doc, elem string) string {
	i := strings.Index(doc, "<"+elem)
	if i < 0 {
		return ""
	}
	rest := doc[i:]
	j := strings.Index(rest, ">")
	k := strings.Index(rest, "</"+elem+">")
	if j < 0 || k < j {
		return ""
	}
	return rest[j+1 : k]
}

func TestStoragePoolLogicalLoop(t *testing.T) {
	needLVM(t)
	dev := loopDevice(t)
	vg := fmt.Sprintf("govirttest%d", os.Getpid())
	// Runs before loopDevice's detach (cleanups run last-in first-out).
	t.Cleanup(func() {
		lvm("vgremove", "-f", vg)
		lvm("pvremove", "-ff", "-y", dev)
	})
	d := startDaemon(t)
	uri := d.URI("qemu")

	xmlPath := filepath.Join(t.TempDir(), "pool.xml")
	os.WriteFile(xmlPath, []byte(fmt.Sprintf("<pool type='logical'><name>%s</name><source><device path='%s'/>"+
		"<name>%s</name><format type='lvm2'/></source><target><path>/dev/%s</path></target></pool>", vg, dev, vg, vg)), 0o600)
	poolWant(t, "pool-define", mustVirsh(t, uri, "pool-define "+xmlPath), "Pool "+vg+" defined")
	poolWant(t, "pool-dumpxml", mustVirsh(t, uri, "pool-dumpxml "+vg), "<pool type='logical'>",
		"<device path='"+dev+"'/>", "<name>"+vg+"</name>", "<format type='lvm2'/>", "<path>/dev/"+vg+"</path>")
	poolVirshFails(t, uri, "pool-start "+vg, "cannot find logical volume group name '"+vg+"'")

	poolWant(t, "pool-build", mustVirsh(t, uri, "pool-build "+vg), "Pool "+vg+" built")
	if out, err := lvm("pvs", "--noheadings", "-o", "pv_name,vg_name", dev); err != nil || !strings.Contains(out, vg) {
		t.Fatalf("after pool-build, pvs %s: %v %q", dev, err, out)
	}
	poolVirshFails(t, uri, "pool-build "+vg+" --no-overwrite", "Device '"+dev+"' already formatted using 'LVM2_member'")
	poolWant(t, "find-storage-pool-sources", mustVirsh(t, uri, "find-storage-pool-sources logical"),
		"<device path='"+dev+"'/>\n    <name>"+vg+"</name>\n    <format type='lvm2'/>")

	poolWant(t, "pool-start", mustVirsh(t, uri, "pool-start "+vg), "Pool "+vg+" started")
	if size, _ := vgBytes(t, vg); size == 0 {
		t.Fatalf("vgs reports an empty group")
	}
	checkSizes := func(when string) {
		t.Helper()
		x := mustVirsh(t, uri, "pool-dumpxml "+vg)
		size, free := vgBytes(t, vg)
		for elem, want := range map[string]uint64{"capacity": size, "available": free, "allocation": size - free} {
			if got := xmlValue(x, elem); got != strconv.FormatUint(want, 10) {
				t.Errorf("%s: pool %s %s, vgs says %d", when, elem, got, want)
			}
		}
	}
	checkSizes("after start")
	poolWant(t, "pool-info", mustVirsh(t, uri, "pool-info "+vg), "State:          running")
	mustVirsh(t, uri, "pool-refresh "+vg)
	if out := mustVirsh(t, uri, "vol-list "+vg); strings.Contains(out, "/dev/") {
		t.Errorf("vol-list of a new group:\n%s", out)
	}
	poolVirshFails(t, uri, "vol-create-as "+vg+" q 8M --format qcow2", "'qcow2' is not supported in logical storage pools")

	if deviceMapperUsable() {
		logicalVolumes(t, uri, vg)
	} else {
		// lvcreate cannot activate anything: the error quotes it, and
		// nothing is left behind.
		t.Log("no usable device-mapper: checking that vol-create-as fails cleanly")
		poolVirshFails(t, uri, "vol-create-as "+vg+" lv1 8M", "lvcreate --name lv1 -L 8192K "+vg+" --yes")
		_, errOut, _ := virsh(t, uri, "vol-create-as "+vg+" lv1 8M")
		if !strings.Contains(errOut, "device-mapper") {
			t.Errorf("vol-create-as error does not quote lvcreate's complaint:\n%s", errOut)
		}
		if out, _ := lvm("lvs", "--noheadings", vg); strings.TrimSpace(out) != "" {
			t.Errorf("failed vol-create-as left volumes:\n%s", out)
		}
		poolWant(t, "pool-list", mustVirsh(t, uri, "pool-list"), vg)
		if out := mustVirsh(t, uri, "vol-list "+vg); strings.Contains(out, "lv1") {
			t.Errorf("vol-list after a failed create:\n%s", out)
		}
		checkSizes("after a failed create")
	}

	// A restarted daemon finds the group, hence the pool active.
	d.crashRestart()
	poolWant(t, "pool-info after restart", mustVirsh(t, uri, "pool-info "+vg), "State:          running")

	poolWant(t, "pool-destroy", mustVirsh(t, uri, "pool-destroy "+vg), "Pool "+vg+" destroyed")
	poolWant(t, "pool-delete", mustVirsh(t, uri, "pool-delete "+vg), "Pool "+vg+" deleted")
	if out, err := lvm("vgs", vg); err == nil {
		t.Errorf("volume group still there after pool-delete:\n%s", out)
	}
	if out, _ := lvm("pvs", "--noheadings", "-o", "pv_name"); strings.Contains(out, dev) {
		t.Errorf("%s still a physical volume after pool-delete:\n%s", dev, out)
	}
	poolWant(t, "pool-undefine", mustVirsh(t, uri, "pool-undefine "+vg), "Pool "+vg+" has been undefined")
}

// logicalVolumes exercises real logical volumes (device-mapper needed).
func logicalVolumes(t *testing.T, uri, vg string) {
	t.Helper()
	poolWant(t, "vol-create-as", mustVirsh(t, uri, "vol-create-as "+vg+" lv1 8M"), "Vol lv1 created")
	uuid, err := lvm("lvs", "--noheadings", "-o", "lv_uuid", vg+"/lv1")
	if err != nil {
		t.Fatalf("lvs after vol-create-as: %v %s", err, uuid)
	}
	path := "/dev/" + vg + "/lv1"
	poolWant(t, "vol-list", mustVirsh(t, uri, "vol-list "+vg), "lv1", path)
	poolWant(t, "vol-info", mustVirsh(t, uri, "vol-info --pool "+vg+" lv1"), "Type:           block", "Capacity:       8.00 MiB")
	poolWant(t, "vol-dumpxml", mustVirsh(t, uri, "vol-dumpxml --pool "+vg+" lv1"), "<volume type='block'>",
		"<key>"+strings.TrimSpace(uuid)+"</key>", "<path>"+path+"</path>", "<mode>0600</mode>")
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeDevice == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v", path, fi, err)
	}
	if st, ok := statSys(path); ok && st.Rdev == 0 {
		t.Errorf("%s is not a device", path)
	}

	// Data goes through the device.
	src := filepath.Join(t.TempDir(), "in")
	data := []byte(strings.Repeat("govirt logical ", 1000))
	os.WriteFile(src, data, 0o600)
	mustVirsh(t, uri, "vol-upload --pool "+vg+" lv1 "+src)
	dst := filepath.Join(t.TempDir(), "out")
	mustVirsh(t, uri, fmt.Sprintf("vol-download --pool %s lv1 %s --length %d", vg, dst, len(data)))
	if got, _ := os.ReadFile(dst); string(got) != string(data) {
		t.Errorf("vol-download returned %d bytes, not what was uploaded", len(got))
	}
	mustVirsh(t, uri, "vol-wipe --pool "+vg+" lv1")
	mustVirsh(t, uri, fmt.Sprintf("vol-download --pool %s lv1 %s --length %d", vg, dst, len(data)))
	if got, _ := os.ReadFile(dst); strings.Trim(string(got), "\x00") != "" {
		t.Errorf("vol-wipe left data")
	}
	mustVirsh(t, uri, "vol-resize --pool "+vg+" lv1 12M")
	poolWant(t, "vol-info after resize", mustVirsh(t, uri, "vol-info --pool "+vg+" lv1"), "Capacity:       12.00 MiB")

	// A sparse volume (allocation below capacity) is a snapshot of nothing.
	mustVirsh(t, uri, "vol-create-as "+vg+" thin 16M --allocation 4M")
	poolWant(t, "sparse vol-info", mustVirsh(t, uri, "vol-info --pool "+vg+" thin"), "Capacity:       16.00 MiB")
	poolVirshFails(t, uri, "vol-wipe --pool "+vg+" thin", "is sparse, volume wipe not supported")

	mustVirsh(t, uri, "vol-delete --pool "+vg+" thin")
	mustVirsh(t, uri, "vol-delete --pool "+vg+" lv1")
	if out, _ := lvm("lvs", "--noheadings", vg); strings.TrimSpace(out) != "" {
		t.Errorf("vol-delete left volumes:\n%s", out)
	}
}

func statSys(path string) (*syscall.Stat_t, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, false
	}
	return &st, true
}
