package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Storage pools of qemu:///system, driven through real virsh.

func needQemuImgRoot(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
}

func poolWant(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: want %q in\n%s", what, w, got)
		}
	}
}

// virshFails runs a command that must fail with msg.
func poolVirshFails(t *testing.T, uri, cmd, msg string) {
	t.Helper()
	out, errOut, rc := virsh(t, uri, cmd)
	if rc == 0 {
		t.Errorf("virsh %s: succeeded, want error %q\n%s", cmd, msg, out)
		return
	}
	poolWant(t, "virsh "+cmd, errOut, msg)
}

// definePool defines, builds and starts a dir pool on a fresh target.
func defineDirPool(t *testing.T, uri, name string) string {
	t.Helper()
	target := filepath.Join(t.TempDir(), name)
	poolWant(t, "pool-define-as", mustVirsh(t, uri, "pool-define-as "+name+" dir --target "+target), "Pool "+name+" defined")
	poolWant(t, "pool-build", mustVirsh(t, uri, "pool-build "+name), "Pool "+name+" built")
	poolWant(t, "pool-start", mustVirsh(t, uri, "pool-start "+name), "Pool "+name+" started")
	return target
}

func TestStoragePoolDirLifecycle(t *testing.T) {
	needQemuImgRoot(t)
	d := startDaemon(t)
	uri := d.URI("qemu")
	target := defineDirPool(t, uri, "gvp")
	fi, err := os.Stat(target)
	if err != nil || fi.Mode().Perm() != 0o711 {
		t.Fatalf("pool-build: %v %v, want a 0711 directory", fi, err)
	}
	poolWant(t, "pool-autostart", mustVirsh(t, uri, "pool-autostart gvp"), "Pool gvp marked as autostarted")
	poolWant(t, "pool-list", mustVirsh(t, uri, "pool-list --all"), " gvp    active   yes")
	poolWant(t, "pool-info", mustVirsh(t, uri, "pool-info gvp"), "State:          running", "Persistent:     yes", "Autostart:      yes", "Capacity:")
	poolWant(t, "pool-dumpxml", mustVirsh(t, uri, "pool-dumpxml gvp"), "<pool type='dir'>", "<path>"+target+"</path>", "<mode>0711</mode>")
	poolVirshFails(t, uri, "pool-start gvp", "storage pool 'gvp' is already active")

	// Volumes: a sparse and a full raw file, a qcow2 overlay on the first.
	mustVirsh(t, uri, "vol-create-as gvp a.raw 10M --allocation 0")
	mustVirsh(t, uri, "vol-create-as gvp full.raw 4M")
	mustVirsh(t, uri, "vol-create-as gvp b.qcow2 20M --format qcow2 --backing-vol a.raw --backing-vol-format raw")
	poolVirshFails(t, uri, "vol-create-as gvp a.raw 1M", "storage volume 'a.raw' exists already")
	poolWant(t, "vol-info sparse", mustVirsh(t, uri, "vol-info --pool gvp a.raw"),
		"Type:           file", "Capacity:       10.00 MiB", "Allocation:     0.00 B")
	poolWant(t, "vol-info full", mustVirsh(t, uri, "vol-info --pool gvp full.raw"), "Capacity:       4.00 MiB", "Allocation:     4.00 MiB")
	info := mustVirsh(t, uri, "vol-info --pool gvp b.qcow2")
	poolWant(t, "vol-info qcow2", info, "Capacity:       20.00 MiB")
	if strings.Contains(info, "Allocation:     20.00 MiB") {
		t.Errorf("qcow2 allocation should be its real size:\n%s", info)
	}
	xml := mustVirsh(t, uri, "vol-dumpxml --pool gvp b.qcow2")
	poolWant(t, "vol-dumpxml", xml, "<volume type='file'>", "<name>b.qcow2</name>", "<key>"+target+"/b.qcow2</key>",
		"<capacity unit='bytes'>20971520</capacity>", "<format type='qcow2'/>", "<mode>0600</mode>", "<timestamps>",
		"<backingStore>\n    <path>"+target+"/a.raw</path>\n    <format type='raw'/>")
	if got := strings.TrimSpace(mustVirsh(t, uri, "vol-path --pool gvp a.raw")); got != target+"/a.raw" {
		t.Errorf("vol-path = %q", got)
	}
	if got := strings.TrimSpace(mustVirsh(t, uri, "vol-key --pool gvp a.raw")); got != target+"/a.raw" {
		t.Errorf("vol-key = %q", got)
	}
	// Lookup by path and by key, without naming the pool.
	poolWant(t, "vol-info by path", mustVirsh(t, uri, "vol-info "+target+"/full.raw"), "Name:           full.raw")
	poolWant(t, "vol-pool", mustVirsh(t, uri, "vol-pool "+target+"/full.raw"), "gvp")

	// Clone flattens the overlay into a standalone image.
	poolWant(t, "vol-clone", mustVirsh(t, uri, "vol-clone --pool gvp b.qcow2 c.qcow2"), "Vol c.qcow2 cloned from b.qcow2")
	xml = mustVirsh(t, uri, "vol-dumpxml --pool gvp c.qcow2")
	poolWant(t, "clone", xml, "<format type='qcow2'/>", "<capacity unit='bytes'>20971520</capacity>")
	if strings.Contains(xml, "<backingStore>") {
		t.Errorf("clone still has a backing store:\n%s", xml)
	}

	// Resize: grow, refuse to shrink without the flag, shrink with it.
	mustVirsh(t, uri, "vol-resize --pool gvp a.raw 20M")
	poolWant(t, "resized raw", mustVirsh(t, uri, "vol-info --pool gvp a.raw"), "Capacity:       20.00 MiB")
	mustVirsh(t, uri, "vol-resize --pool gvp b.qcow2 30M")
	poolWant(t, "resized qcow2", mustVirsh(t, uri, "vol-info --pool gvp b.qcow2"), "Capacity:       30.00 MiB")
	poolVirshFails(t, uri, "vol-resize --pool gvp a.raw 5M", "Can't shrink capacity below current capacity unless shrink flag explicitly specified")
	poolVirshFails(t, uri, "vol-resize --pool gvp full.raw 1M --shrink", "can't shrink capacity below existing allocation")
	mustVirsh(t, uri, "vol-resize --pool gvp a.raw 5M --shrink")
	poolWant(t, "shrunk raw", mustVirsh(t, uri, "vol-info --pool gvp a.raw"), "Capacity:       5.00 MiB")

	// Wipe and delete.
	if err := os.WriteFile(target+"/full.raw", bytes.Repeat([]byte{0xAA}, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	poolWant(t, "vol-wipe", mustVirsh(t, uri, "vol-wipe --pool gvp full.raw"), "Vol full.raw wiped")
	if data, _ := os.ReadFile(target + "/full.raw"); len(data) != 4<<20 || !bytes.Equal(data, make([]byte, 4<<20)) {
		t.Errorf("wiped volume is not 4 MiB of zeros (%d bytes)", len(data))
	}
	poolWant(t, "vol-delete", mustVirsh(t, uri, "vol-delete --pool gvp full.raw"), "Vol full.raw deleted")
	if _, err := os.Stat(target + "/full.raw"); !os.IsNotExist(err) {
		t.Errorf("deleted volume still there: %v", err)
	}
	// virsh falls back to key and path lookups, so the last error names the path.
	poolVirshFails(t, uri, "vol-info --pool gvp full.raw", "Storage volume not found: no storage vol with matching path 'full.raw'")

	// Files created behind govirtd's back appear on refresh.
	if err := os.WriteFile(target+"/ext.img", make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustVirsh(t, uri, "vol-list gvp"), "ext.img") {
		t.Errorf("ext.img listed before refresh")
	}
	poolWant(t, "pool-refresh", mustVirsh(t, uri, "pool-refresh gvp"), "Pool gvp refreshed")
	poolWant(t, "vol-list after refresh", mustVirsh(t, uri, "vol-list gvp --details"), "ext.img", target+"/ext.img", "1.00 MiB")

	// The pool, its autostart flag and its volumes survive a daemon crash.
	d.crashRestart()
	poolWant(t, "pool-list after restart", mustVirsh(t, uri, "pool-list --all --details"), "gvp", "running", "yes")
	poolWant(t, "vol-list after restart", mustVirsh(t, uri, "vol-list gvp"), "a.raw", "b.qcow2", "c.qcow2", "ext.img")

	// Stop, remove everything.
	poolWant(t, "pool-destroy", mustVirsh(t, uri, "pool-destroy gvp"), "Pool gvp destroyed")
	poolVirshFails(t, uri, "pool-destroy gvp", "storage pool 'gvp' is not active")
	poolVirshFails(t, uri, "vol-list gvp", "storage pool 'gvp' is not active")
	poolVirshFails(t, uri, "pool-refresh gvp", "storage pool 'gvp' is not active")
	poolWant(t, "pool-info inactive", mustVirsh(t, uri, "pool-info gvp"), "State:          inactive")
	for _, f := range []string{"a.raw", "b.qcow2", "c.qcow2", "ext.img"} {
		os.Remove(filepath.Join(target, f))
	}
	poolWant(t, "pool-delete", mustVirsh(t, uri, "pool-delete gvp"), "Pool gvp deleted")
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Errorf("pool-delete left the target: %v", err)
	}
	poolWant(t, "pool-undefine", mustVirsh(t, uri, "pool-undefine gvp"), "Pool gvp has been undefined")
	if strings.Contains(mustVirsh(t, uri, "pool-list --all"), "gvp") {
		t.Errorf("undefined pool still listed")
	}
	d.crashRestart()
	if strings.Contains(mustVirsh(t, uri, "pool-list --all"), "gvp") {
		t.Errorf("undefined pool came back after a restart")
	}
}

func TestStorageVolPathTraversal(t *testing.T) {
	needQemuImgRoot(t)
	d := startDaemon(t)
	uri := d.URI("qemu")
	target := defineDirPool(t, uri, "gvtrav")
	for _, name := range []string{"../../etc/x", "../escape", "sub/x"} {
		poolVirshFails(t, uri, "vol-create-as gvtrav "+name+" 1M",
			"Requested operation is not valid: volume name '"+name+"' cannot contain '/'")
		if _, err := os.Lstat(filepath.Join(target, name)); !os.IsNotExist(err) {
			t.Errorf("%s: something was created: %v", name, err)
		}
	}
	poolVirshFails(t, uri, "vol-create-as gvtrav .. 1M", "already exists")
	ents, _ := os.ReadDir(target)
	if len(ents) != 0 {
		t.Errorf("pool directory not empty: %v", ents)
	}
	if out := mustVirsh(t, uri, "vol-list gvtrav"); strings.Count(out, "\n") > 3 {
		t.Errorf("volumes appeared:\n%s", out)
	}
	mustVirsh(t, uri, "pool-destroy gvtrav")
	mustVirsh(t, uri, "pool-undefine gvtrav")
}

func poolFileSHA(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func TestStorageVolUploadDownload256M(t *testing.T) {
	needQemuImgRoot(t)
	d := startDaemon(t)
	uri := d.URI("qemu")
	target := defineDirPool(t, uri, "gvxfer")
	const size = 256 << 20
	src := filepath.Join(t.TempDir(), "src.bin")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	mustVirsh(t, uri, "vol-create-as gvxfer big.raw 256M --allocation 0")
	mustVirsh(t, uri, "vol-upload --pool gvxfer big.raw "+src)
	if poolFileSHA(t, target+"/big.raw") != poolFileSHA(t, src) {
		t.Fatal("uploaded volume differs from the source")
	}
	dst := filepath.Join(t.TempDir(), "dst.bin")
	mustVirsh(t, uri, "vol-download --pool gvxfer big.raw "+dst)
	if poolFileSHA(t, dst) != poolFileSHA(t, src) {
		t.Fatal("downloaded data differs from the source")
	}
	poolWant(t, "vol-info", mustVirsh(t, uri, "vol-info --pool gvxfer big.raw"), "Allocation:     256.00 MiB")

	// Ranges: download a slice, upload into a slice without touching
	// anything past offset+length.
	part := filepath.Join(t.TempDir(), "part.bin")
	mustVirsh(t, uri, "vol-download --pool gvxfer big.raw "+part+" --offset 1000 --length 5000")
	whole, _ := os.ReadFile(src)
	got, _ := os.ReadFile(part)
	if !bytes.Equal(got, whole[1000:6000]) {
		t.Errorf("ranged download: got %d bytes, want the 5000 bytes at offset 1000", len(got))
	}
	mustVirsh(t, uri, "vol-create-as gvxfer small.raw 1M --allocation 0")
	chunk := filepath.Join(t.TempDir(), "chunk.bin")
	os.WriteFile(chunk, bytes.Repeat([]byte{0x5A}, 4096), 0o600)
	mustVirsh(t, uri, "vol-upload --pool gvxfer small.raw "+chunk+" --offset 8192 --length 4096")
	vol, _ := os.ReadFile(target + "/small.raw")
	if len(vol) != 1<<20 || !bytes.Equal(vol[8192:12288], bytes.Repeat([]byte{0x5A}, 4096)) ||
		!bytes.Equal(vol[:8192], make([]byte, 8192)) || !bytes.Equal(vol[12288:], make([]byte, len(vol)-12288)) {
		t.Errorf("ranged upload wrote the wrong bytes")
	}
	// More data than the declared length is refused, and nothing past the
	// length is written.
	os.WriteFile(chunk, bytes.Repeat([]byte{0x77}, 8192), 0o600)
	poolVirshFails(t, uri, "vol-upload --pool gvxfer small.raw "+chunk+" --offset 0 --length 4096", "")
	vol, _ = os.ReadFile(target + "/small.raw")
	if !bytes.Equal(vol[4096:8192], make([]byte, 4096)) {
		t.Errorf("upload wrote past its length")
	}
	for _, v := range []string{"big.raw", "small.raw"} {
		mustVirsh(t, uri, "vol-delete --pool gvxfer "+v)
	}
	mustVirsh(t, uri, "pool-destroy gvxfer")
	mustVirsh(t, uri, "pool-undefine gvxfer")
}

// loopDevice attaches a fresh 64 MiB image to a loop device, or skips.
func loopDevice(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Skipf("no loop device available: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func mounted(target string) bool {
	data, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == target {
			return true
		}
	}
	return false
}

func TestStoragePoolFSLoop(t *testing.T) {
	needQemuImgRoot(t)
	dev := loopDevice(t)
	d := startDaemon(t)
	uri := d.URI("qemu")
	target := filepath.Join(t.TempDir(), "mnt")
	t.Cleanup(func() {
		if mounted(target) {
			exec.Command("umount", target).Run()
		}
	})
	mustVirsh(t, uri, "pool-define-as gvfs fs --source-dev "+dev+" --source-format ext4 --target "+target)
	poolWant(t, "pool-dumpxml", mustVirsh(t, uri, "pool-dumpxml gvfs"),
		"<pool type='fs'>", "<device path='"+dev+"'/>", "<format type='ext4'/>")
	poolWant(t, "pool-build", mustVirsh(t, uri, "pool-build gvfs --overwrite"), "Pool gvfs built")
	if out, _ := exec.Command("blkid", "-o", "value", "-s", "TYPE", dev).Output(); strings.TrimSpace(string(out)) != "ext4" {
		t.Fatalf("pool-build --overwrite made no ext4 on %s: %q", dev, out)
	}
	poolVirshFails(t, uri, "pool-build gvfs --no-overwrite", "Device '"+dev+"' already formatted using 'ext4'")
	mustVirsh(t, uri, "pool-start gvfs")
	if !mounted(target) {
		t.Fatalf("pool-start did not mount %s on %s", dev, target)
	}
	poolWant(t, "pool-info", mustVirsh(t, uri, "pool-info gvfs"), "State:          running")
	mustVirsh(t, uri, "vol-create-as gvfs v.qcow2 100M --format qcow2")
	// ext4 keeps lost+found, which is a directory volume as in libvirt.
	poolWant(t, "vol-list", mustVirsh(t, uri, "vol-list gvfs"), "v.qcow2", "lost+found")
	poolWant(t, "vol-info", mustVirsh(t, uri, "vol-info --pool gvfs v.qcow2"), "Capacity:       100.00 MiB")
	mustVirsh(t, uri, "vol-delete --pool gvfs v.qcow2")
	// A restart finds the pool still mounted, hence active.
	d.crashRestart()
	poolWant(t, "pool-info after restart", mustVirsh(t, uri, "pool-info gvfs"), "State:          running")
	mustVirsh(t, uri, "pool-destroy gvfs")
	if mounted(target) {
		t.Errorf("pool-destroy left %s mounted", target)
	}
	mustVirsh(t, uri, "pool-undefine gvfs")
}

// TestStoragePoolAutostartAtDaemonStart needs govirtd to call the qemu
// driver's StorageAutostart at start; it skips until that is wired.
func TestStoragePoolAutostartAtDaemonStart(t *testing.T) {
	needQemuImgRoot(t)
	if src, err := os.ReadFile("../cmd/govirtd/main.go"); err != nil || !bytes.Contains(src, []byte("StorageAutostart")) {
		t.Skip("cmd/govirtd does not call StorageAutostart yet")
	}
	d := startDaemon(t)
	uri := d.URI("qemu")
	target := filepath.Join(t.TempDir(), "auto")
	mustVirsh(t, uri, "pool-define-as gvauto dir --target "+target)
	mustVirsh(t, uri, "pool-build gvauto")
	mustVirsh(t, uri, "pool-autostart gvauto")
	poolWant(t, "pool-info", mustVirsh(t, uri, "pool-info gvauto"), "State:          inactive", "Autostart:      yes")
	d.crashRestart()
	poolWant(t, "pool-info after restart", mustVirsh(t, uri, "pool-info gvauto"), "State:          running", "Autostart:      yes")
	mustVirsh(t, uri, "pool-destroy gvauto")
	mustVirsh(t, uri, "pool-autostart gvauto --disable")
	d.crashRestart()
	poolWant(t, "pool-info without autostart", mustVirsh(t, uri, "pool-info gvauto"), "State:          inactive", "Autostart:      no")
	mustVirsh(t, uri, "pool-undefine gvauto")
}
