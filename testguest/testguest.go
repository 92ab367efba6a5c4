// Package testguest provides a tiny bootable Linux guest (Debian kernel +
// busybox initramfs) for tests that need a real QEMU guest, and helpers to
// drive it.
//
// The guest is built by build.sh from Debian packages (see README.md) into
// $GOVIRT_TESTGUEST_DIR (default $HOME/.cache/govirt/testguest). Boot it with
//
//	qemu-system-x86_64 -accel <Accel()> -m 128 -kernel K -initrd I -append Cmdline \
//	    -device pvpanic -serial ...
//
// and wait for ReadyMarker on the serial console. The console then runs a
// root shell with the helper commands gv-write, gv-sum, gv-eject, gv-reboot,
// gv-poweroff and gv-panic; the ACPI power button (QMP system_powerdown)
// powers the guest off.
package testguest

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Cmdline is the kernel command line to boot the guest with. Serial console
// on ttyS0, no kernel chatter, and panic=0: on a kernel panic the guest
// notifies pvpanic (QEMU emits GUEST_PANICKED) and then hangs rather than
// rebooting. Append " panic=1" (reboot 1 s after a panic) or " panic=-1"
// (reboot at once) when a test wants the guest to reboot after a panic.
// no_timer_check: under TCG on a busy host the kernel's check that the
// 8254 timer reaches the IO-APIC can time out and hang the boot.
const Cmdline = "console=ttyS0 quiet panic=0 no_timer_check"

// ReadyMarker is printed on the console, at the start of its own line, each
// time the console shell is (re)started, i.e. once per boot after init has
// loaded the modules and started acpid. The full line is
// "GOVIRT-GUEST-READY kernel=<uname -r>".
const ReadyMarker = "GOVIRT-GUEST-READY"

// Console output lines printed by the guest helpers.
const (
	// PowerOffMarker is printed when the guest powers off (ACPI power
	// button or gv-poweroff).
	PowerOffMarker = "GOVIRT-GUEST-POWEROFF"
	// RebootMarker is printed by gv-reboot.
	RebootMarker = "GOVIRT-GUEST-REBOOT"
	// PanicMarker is printed by gv-panic just before it crashes the kernel.
	PanicMarker = "GOVIRT-GUEST-PANIC"
)

// ExitFetchFailed is build.sh's exit status when the Debian packages could
// not be obtained; Ensure turns it into a test skip.
const ExitFetchFailed = 3

//go:embed build.sh
var buildScript []byte

// Dir returns the directory the guest is built into:
// $GOVIRT_TESTGUEST_DIR, else $HOME/.cache/govirt/testguest (the same
// default as build.sh).
func Dir() string {
	if d := os.Getenv("GOVIRT_TESTGUEST_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "govirt", "testguest")
}

var (
	buildOnce sync.Once
	built     struct {
		kernel, initrd string
		skip           bool // build failed because packages could not be fetched
		err            error
	}
)

// Ensure builds the test guest if needed (once per process) and returns
// the paths of its kernel and initramfs. If the packages cannot be fetched
// (no apt, no network, ...) the test is skipped, unless
// GOVIRT_TESTGUEST_REQUIRE=1 is set, in which case it fails; any other build
// error fails the test.
func Ensure(t testing.TB) (kernel, initrd string) {
	t.Helper()
	buildOnce.Do(build)
	if built.err != nil {
		if built.skip && os.Getenv("GOVIRT_TESTGUEST_REQUIRE") != "1" {
			t.Skipf("testguest: cannot build the test guest (set GOVIRT_TESTGUEST_REQUIRE=1 to fail instead): %v", built.err)
		}
		t.Fatalf("testguest: %v", built.err)
	}
	return built.kernel, built.initrd
}

func build() {
	if runtime.GOOS != "linux" {
		built.skip, built.err = true, fmt.Errorf("test guest needs a Linux (Debian) host, have %s", runtime.GOOS)
		return
	}
	dir := Dir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		built.err = err
		return
	}
	script, err := scriptPath(dir)
	if err != nil {
		built.err = err
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", script, dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == ExitFetchFailed {
			built.skip = true
		}
		built.err = fmt.Errorf("%s %s: %v\n%s", script, dir, err, strings.TrimSpace(out.String()))
		return
	}
	built.kernel = filepath.Join(dir, "vmlinuz")
	built.initrd = filepath.Join(dir, "initrd.img")
}

// scriptPath returns build.sh from the source tree when it is there (so that
// editing it triggers a rebuild), else a copy of the embedded script in dir,
// rewritten only when its content changes.
func scriptPath(dir string) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "build.sh")
		if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, buildScript) {
			return p, nil
		}
	}
	p := filepath.Join(dir, "build.sh")
	if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, buildScript) {
		return p, nil
	}
	tmp, err := os.CreateTemp(dir, ".build.sh.*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buildScript); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	return p, os.Rename(tmp.Name(), p)
}

var (
	kvmOnce   sync.Once
	kvmUsable bool
)

// KVMUsable reports whether QEMU can run the guest with KVM: /dev/kvm opens
// read-write, KVM_GET_API_VERSION returns 12, KVM_CREATE_VM succeeds, and the
// CPU exposes hardware virtualisation (vmx/svm). The last check rules out
// software KVM implementations (e.g. PVM in nested sandboxes) that accept
// the ioctls but cannot boot a stock kernel. GOVIRT_TESTGUEST_ACCEL=kvm|tcg
// overrides the probe.
func KVMUsable() bool {
	kvmOnce.Do(func() {
		switch os.Getenv("GOVIRT_TESTGUEST_ACCEL") {
		case "kvm":
			kvmUsable = true
			return
		case "tcg":
			return
		}
		kvmUsable = probeKVM()
	})
	return kvmUsable
}

const (
	kvmGetAPIVersion = 0xAE00 // _IO(KVMIO, 0x00)
	kvmCreateVM      = 0xAE01 // _IO(KVMIO, 0x01)
)

func probeKVM() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	fd, err := syscall.Open("/dev/kvm", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	v, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), kvmGetAPIVersion, 0)
	if errno != 0 || v != 12 {
		return false
	}
	vm, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), kvmCreateVM, 0)
	if errno != 0 {
		return false
	}
	syscall.Close(int(vm))
	return hasHardwareVirt()
}

func hasHardwareVirt() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "flags") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if f == "vmx" || f == "svm" {
				return true
			}
		}
		return false
	}
	return false
}

// Accel returns the QEMU accelerator to use: "kvm" if KVMUsable, else "tcg".
func Accel() string {
	if KVMUsable() {
		return "kvm"
	}
	return "tcg"
}

// BootTimeout is a generous upper bound for the guest to reach ReadyMarker
// with the current accelerator (it typically takes ~1 s with KVM and 3-6 s
// with TCG on an idle machine).
func BootTimeout() time.Duration {
	if KVMUsable() {
		return 30 * time.Second
	}
	return 90 * time.Second
}
