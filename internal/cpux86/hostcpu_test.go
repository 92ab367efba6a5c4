package cpux86

import (
	"os"
	"testing"
)

// The host CPU decodes to some model with the host's vendor; the exact
// answer is compared with libvirtd in the daemon's comparison test.
func TestHostCPU(t *testing.T) {
	if _, err := os.Stat("/proc/cpuinfo"); err != nil {
		t.Skip("no /proc/cpuinfo")
	}
	m := mustMap(t)
	cpu, err := m.Host()
	if err != nil {
		t.Fatal(err)
	}
	if cpu.Model == "" || cpu.Vendor == "" {
		t.Fatalf("host cpu %+v", cpu)
	}
	t.Log(cpu.FormatHost())
}
