package integration

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQEMUTuning covers vcpuinfo, setmem (live balloon and config),
// setmaxmem and setvcpus on the persistent definition.
func TestQEMUTuning(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	startGuests(t, d, "tu")
	out := mustVirsh(t, uri, "vcpuinfo tu")
	if !strings.Contains(out, "VCPU:           0") || !strings.Contains(out, "State:          running") {
		t.Errorf("vcpuinfo:\n%s", out)
	}
	mustVirsh(t, uri, "setmem tu 100M --config")
	if out := mustVirsh(t, uri, "dumpxml --inactive tu"); !strings.Contains(out, "<currentMemory unit='KiB'>102400</currentMemory>") {
		t.Errorf("config memory not changed:\n%s", out)
	}
	mustVirsh(t, uri, "setvcpus tu 2 --config --maximum; setvcpus tu 2 --config")
	if out := mustVirsh(t, uri, "vcpucount tu --config --current"); strings.TrimSpace(out) != "2" {
		t.Errorf("vcpucount --config: %q", out)
	}
	if _, errOut, rc := virsh(t, uri, "setmaxmem tu 1G --live"); rc == 0 {
		t.Errorf("setmaxmem --live on a running guest succeeded")
	} else if !strings.Contains(errOut, "error") {
		t.Errorf("setmaxmem --live: %s", errOut)
	}
	mustVirsh(t, uri, "destroy tu")
	waitState(t, d, "tu", "shut off (destroyed)", 5*time.Second)
}

// TestQEMUVNCPortRangeFromConfig sets the autoport range in the config
// file; a guest's display lands inside it.
func TestQEMUVNCPortRangeFromConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "govirtd.conf")
	os.WriteFile(cfg, []byte("vnc_port_min = 5990\nvnc_port_max = 5999\n"), 0o644)
	d := startDaemon(t, "--config", cfg)
	t.Cleanup(func() { killGuests(d) })
	startGuests(t, d, "vr")
	out := strings.TrimSpace(mustVirsh(t, d.URI("qemu"), "vncdisplay vr"))
	i := strings.LastIndexByte(out, ':')
	n, err := strconv.Atoi(out[i+1:])
	if err != nil || n < 90 || n > 99 {
		t.Errorf("vncdisplay %q, want a display in :90-:99", out)
	}
	mustVirsh(t, d.URI("qemu"), "destroy vr")
}

// TestQEMUSpice gives a guest a SPICE display with autoport: domdisplay
// names it and the port accepts connections.
func TestQEMUSpice(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	xml := strings.Replace(guestXML(t, "sp", filepath.Join(d.dir, "sp.console"), ""),
		"<graphics type='vnc' listen='127.0.0.1' autoport='yes'/>", "<graphics type='spice' autoport='yes' listen='127.0.0.1'/>", 1)
	os.WriteFile(filepath.Join(dir, "sp.xml"), []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+filepath.Join(dir, "sp.xml"))
	mustVirsh(t, uri, "start sp")
	out := strings.TrimSpace(mustVirsh(t, uri, "domdisplay sp"))
	if !strings.HasPrefix(out, "spice://127.0.0.1:") {
		t.Fatalf("domdisplay %q", out)
	}
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(out, "spice://"), 5*time.Second)
	if err != nil {
		t.Fatalf("spice port not reachable: %v", err)
	}
	c.Close()
	mustVirsh(t, uri, "destroy sp")
}
