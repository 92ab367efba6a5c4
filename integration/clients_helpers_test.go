package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// Helpers for the tests that drive govirtd's QEMU driver through the
// provisioning and graphical clients (virt-install, virt-clone,
// guestfish, virt-manager). Each is skipped, naming the Debian package,
// when its tool is missing; scripts/install-deps.sh installs them.

// startClientsDaemon is startDaemon with a display port range of its own
// (vnc_port_min/max, which SPICE shares): govirtd checks a port is free
// before QEMU binds it, but QEMUs of other daemons on a shared host may
// take it in between, so each test run keeps to its own hundred ports.
func startClientsDaemon(t *testing.T) *daemon {
	t.Helper()
	clientPortBase++
	lo := 20000 + (os.Getpid()%200)*200 + (clientPortBase%2)*100
	conf := writeConfig(t, fmt.Sprintf("vnc_port_min = %d", lo), fmt.Sprintf("vnc_port_max = %d", lo+99))
	d := startDaemon(t, "--config", conf)
	t.Cleanup(func() { killGuests(d) })
	return d
}

var clientPortBase int

// needTool skips the test when name is not on PATH.
func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (Debian package %s)", name, pkg)
	}
}

// needQEMU skips the test without QEMU.
func needQEMU(t *testing.T) {
	t.Helper()
	needTool(t, "qemu-system-x86_64", "qemu-system-x86")
	needTool(t, "qemu-img", "qemu-utils")
}

// runTool runs a client program with extra environment and returns its
// combined output and exit code; a tool that outlives timeout is killed.
func runTool(t *testing.T, timeout time.Duration, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(append(os.Environ(), "LC_ALL=C", "LIBVIRT_DEFAULT_URI="), env...)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out after %v\n%s", name, args, timeout, out.String())
	}
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), rc
}

// qcow2Disk creates an empty 64 MiB qcow2 image in dir.
func qcow2Disk(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	return path
}

// virtInstall runs virt-install 4.1 against d's QEMU driver, importing
// disk as guest name with the given extra options, and fails the test
// unless it defines and starts the guest.
func virtInstall(t *testing.T, d *daemon, name, disk string, extra ...string) string {
	t.Helper()
	args := append([]string{"--connect", d.URI("qemu"), "--name", name, "--memory", "256", "--vcpus", "1",
		"--import", "--disk", disk, "--virt-type", virtType(), "--network", "user", "--noautoconsole"}, extra...)
	out, rc := runTool(t, 3*time.Minute, nil, "virt-install", args...)
	if rc != 0 {
		t.Fatalf("virt-install %v: rc=%d\n%s\ndaemon log:\n%s", extra, rc, out, d.Log())
	}
	return out
}

// virtType is the --virt-type for guests: kvm where it works, else TCG.
func virtType() string {
	if testguest.KVMUsable() {
		return "kvm"
	}
	return "qemu"
}

// guestXMLOf is the live XML of a guest.
func guestXMLOf(t *testing.T, d *daemon, name string, flags ...string) string {
	t.Helper()
	return mustVirsh(t, d.URI("qemu"), strings.Join(append([]string{"dumpxml", name}, flags...), " "))
}
