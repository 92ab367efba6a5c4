package qemu

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"govirt/conf"
)

// TestDevSubmounts: the mounts below /dev kept in a private /dev, nested
// ones and repeats pruned, escapes undone.
func TestDevSubmounts(t *testing.T) {
	mi := `24 27 0:6 / /dev rw - devtmpfs devtmpfs rw
25 24 0:23 / /dev/shm rw - tmpfs tmpfs rw
26 24 0:24 / /dev/pts rw - devpts devpts rw
29 26 0:26 / /dev/pts rw - devpts devpts rw
30 25 0:27 / /dev/shm/inner rw - tmpfs tmpfs rw
31 24 0:28 / /dev/hugepages rw - hugetlbfs hugetlbfs rw
32 24 0:29 / /dev/my\040dir rw - tmpfs tmpfs rw
33 27 0:30 / /devices rw - tmpfs tmpfs rw
22 27 0:21 / /proc rw - proc proc rw
`
	p := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(p, []byte(mi), 0o600)
	got, err := devSubmounts(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/dev/shm", "/dev/pts", "/dev/hugepages", "/dev/my dir"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestStatNSNodes: device nodes with their numbers and owners, symlink
// chains followed (link and target), nothing outside /dev or inside a
// kept mount, missing paths skipped.
func TestStatNSNodes(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip("no /dev/null")
	}
	nodes, err := statNSNodes([]string{"/dev/null", "/dev/null", "/dev/pts/ptmx", "/tmp", "/dev/gv-missing"}, []string{"/dev/pts"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].path != "/dev/null" || !nodes[0].isDev() {
		t.Fatalf("nodes %+v", nodes)
	}
	var st syscall.Stat_t
	syscall.Stat("/dev/null", &st)
	if nodes[0].rdev != st.Rdev || nodes[0].uid != st.Uid || nodes[0].mode != st.Mode {
		t.Errorf("node %+v, host rdev %x mode %o", nodes[0], st.Rdev, st.Mode)
	}
	if fi, err := os.Lstat("/dev/stdout"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		nodes, err := statNSNodes([]string{"/dev/stdout"}, nil)
		if err != nil || len(nodes) == 0 || !nodes[0].isLink() || nodes[0].target != "/proc/self/fd/1" {
			t.Errorf("symlink: %+v %v", nodes, err)
		}
	}
}

// TestNSPaths: the default ACL, a block disk's chain, a tty serial, an
// RNG, a USB host device and SEV make up a guest's /dev list.
func TestNSPaths(t *testing.T) {
	def, err := conf.ParseDomain([]byte(`<domain type='kvm'><name>n</name><memory>1024</memory>
<os><type>hvm</type></os>
<devices>
  <disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vda'/></disk>
  <serial type='dev'><source path='/dev/ttyS7'/></serial>
  <rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>
  <hostdev mode='subsystem' type='usb'><source><address bus='1' device='12'/></source></hostdev>
</devices>
<launchSecurity type='sev'><policy>0x0003</policy></launchSecurity>
</domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range nsPaths(def) {
		got[p] = true
	}
	for _, w := range append(defaultDeviceACL, "/dev/sdz", "/dev/ttyS7", "/dev/hwrng", "/dev/bus/usb/001/012", "/dev/sev") {
		if !got[w] {
			t.Errorf("missing %s in %v", w, got)
		}
	}
}
