package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestGuestfishListFilesystems has libguestfs launch its appliance through
// govirtd (LIBGUESTFS_BACKEND=libvirt:URI): guestfish defines a transient
// guest with a direct kernel boot, <qemu:commandline> environment,
// <os><bios useserial>, <cpu mode='maximum'> with a disabled feature,
// virtio-scsi disks on qcow2 overlays and unix-socket serial and channel
// that it connects itself, then lists the filesystems of an ext4 image.
//
// The appliance boots a full Debian kernel and userspace, about 50 s under
// TCG plus the first build of the appliance; the test is skipped with
// -short. supermin needs a kernel: scripts/guestfs-kernel.sh unpacks
// Debian's (without installing it) when the host has none in /boot.
func TestGuestfishListFilesystems(t *testing.T) {
	if testing.Short() {
		t.Skip("the libguestfs appliance takes about a minute under TCG; skipped with -short")
	}
	needTool(t, "guestfish", "libguestfs-tools")
	needTool(t, "mkfs.ext4", "e2fsprogs")
	needQEMU(t)
	env := []string{"LIBGUESTFS_BACKEND=libvirt:qemu+unix:///system?socket="}
	if !hostHasKernel() {
		out, err := exec.Command("../scripts/guestfs-kernel.sh").Output()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
			t.Skipf("no kernel for the libguestfs appliance: the Debian kernel package could not be fetched\n%s", ee.Stderr)
		} else if err != nil {
			t.Fatalf("scripts/guestfs-kernel.sh: %v", err)
		}
		kver := strings.TrimSpace(string(out))
		kdir := os.Getenv("GOVIRT_GUESTFS_KERNEL_DIR")
		if kdir == "" {
			home, _ := os.UserHomeDir()
			kdir = filepath.Join(home, ".cache/govirt/guestfs-kernel")
		}
		env = append(env, "SUPERMIN_KERNEL="+filepath.Join(kdir, "boot", "vmlinuz-"+kver),
			"SUPERMIN_MODULES="+filepath.Join(kdir, "lib/modules", kver), "SUPERMIN_KERNEL_VERSION="+kver)
	}
	if !testguest.KVMUsable() {
		// libguestfs asks for a kvm guest whenever the host lists kvm;
		// nested KVM here may not run it.
		env = append(env, "LIBGUESTFS_BACKEND_SETTINGS=force_tcg")
	}
	d := startClientsDaemon(t)
	env[0] += d.Socket
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "govirt", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	out, rc := runTool(t, 10*time.Minute, env, "guestfish", "--ro", "-a", img, "run", ":", "list-filesystems")
	if rc != 0 {
		t.Fatalf("guestfish: rc=%d\n%s\ngovirtd:\n%s", rc, out, d.Log())
	}
	if !strings.Contains(out, "/dev/sda: ext4") {
		t.Fatalf("guestfish list-filesystems: %q, want /dev/sda: ext4", out)
	}
	// guestfish destroys its appliance when it exits; nothing is left.
	if l := mustVirsh(t, d.URI("qemu"), "list --all --name"); strings.TrimSpace(l) != "" {
		t.Errorf("guests left behind: %s", l)
	}
}

// hostHasKernel reports a kernel supermin can find by itself.
func hostHasKernel() bool {
	m, _ := filepath.Glob("/boot/vmlinuz-*")
	return len(m) > 0
}
