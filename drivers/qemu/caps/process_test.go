package caps

import (
	"context"
	"os"
	"testing"
	"time"
)

// realQEMU returns the host's x86_64 emulator, skipping when absent.
func realQEMU(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("GOVIRT_QEMU")
	if bin == "" {
		bin = "/usr/bin/qemu-system-x86_64"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no QEMU at %s: %v", bin, err)
	}
	if testing.Short() {
		t.Skip("starts QEMU; skipped with -short")
	}
	return bin
}

func TestProbeRealQEMU(t *testing.T) {
	bin := realQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runDir := t.TempDir()
	c, err := Probe(ctx, bin, runDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("QEMU %s (%s) arch %s kvm=%+v virt types %v, %d machines, %d CPU models, %d flags",
		c.versionString(), c.Package, c.Arch, c.KVM, c.VirtTypes(), len(c.Machines), len(c.CPUModels), len(c.Flags))
	if c.Version < minVersion || c.Arch != "x86_64" || c.Binary != bin || c.BinarySize == 0 || c.KernelVersion == "" {
		t.Errorf("identity/version not recorded: %+v", c)
	}
	if !c.Has("tcg") || !c.Has("blockdev") || !c.HasCommand("query-machines") {
		t.Errorf("basic flags missing: %v", c.Flags)
	}
	if c.DefaultMachine() == "" || c.MachineAlias("q35") == "q35" {
		t.Errorf("machines: default %q, q35 -> %q", c.DefaultMachine(), c.MachineAlias("q35"))
	}
	if c.Has("kvm") && len(c.TCGCPUModels) == 0 {
		t.Error("KVM probe without the TCG pass")
	}
	if _, err := c.DomainCapabilities("", ""); err != nil {
		t.Error(err)
	}
	entries, _ := os.ReadDir(runDir)
	for _, e := range entries {
		t.Errorf("probe left %s behind", e.Name())
	}
}

func TestProbeFailingBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := Probe(ctx, "/bin/false", t.TempDir()); err == nil {
		t.Fatal("probing /bin/false succeeded")
	} else {
		t.Log(err)
	}
}
