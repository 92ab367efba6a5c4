package integration

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestNodeCallsVirsh: node statistics and host facts through virsh. On
// the test driver the output must be libvirt 9.0's own test driver's (in
// the client library); on the QEMU connection the host's counters, in
// libvirt's layout and with its errors.
func TestNodeCallsVirsh(t *testing.T) {
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	for _, cmd := range []string{"nodecpustats", "nodecpustats --cpu 0", "nodememstats", "nodememstats --cell 0"} {
		wo, we, wrc := virsh(t, "test:///default", strings.Fields(cmd)...)
		out, errOut, rc := virsh(t, d.URI("test"), strings.Fields(cmd)...)
		if rc != wrc || out != wo || errOut != we {
			t.Errorf("test: virsh %s: rc=%d\n%s%s\nlibvirt: rc=%d\n%s%s", cmd, rc, out, errOut, wrc, wo, we)
		}
	}
	q := d.URI("qemu")
	line := regexp.MustCompile(`(?m)^(user|system|idle|iowait):\s+\d+\n`)
	for _, cmd := range []string{"nodecpustats", "nodecpustats --cpu 0"} {
		out, errOut, rc := virsh(t, q, strings.Fields(cmd)...)
		if rc != 0 || len(line.FindAllString(out, -1)) != 4 {
			t.Errorf("qemu: virsh %s: rc=%d\n%s%s", cmd, rc, out, errOut)
		}
	}
	if _, errOut, rc := virsh(t, q, "nodecpustats", "--cpu", "4096"); rc == 0 || !strings.Contains(errOut, "Invalid cpuNum in virHostCPUGetStatsLinux") {
		t.Errorf("nodecpustats --cpu 4096: rc=%d %s", rc, errOut)
	}
	out, errOut, rc := virsh(t, q, "nodememstats")
	if rc != 0 || !regexp.MustCompile(`(?s)^total  :\s+\d+ KiB\nfree   :\s+\d+ KiB\nbuffers:\s+\d+ KiB\ncached :\s+\d+ KiB\n`).MatchString(out) {
		t.Errorf("qemu: nodememstats: rc=%d\n%s%s", rc, out, errOut)
	}
	if _, errOut, rc := virsh(t, q, "nodememstats", "--cell", "4096"); rc == 0 || !strings.Contains(errOut, "cellNum in virHostMemGetStats must be less than or equal to") {
		t.Errorf("nodememstats --cell 4096: rc=%d %s", rc, errOut)
	}
	// sysinfo: the host's SMBIOS tables as libvirtd reports them (through
	// dmidecode), or libvirt's error on a host without them.
	si, siErr, siRC := virsh(t, q, "sysinfo")
	if c, err := net.Dial("unix", "/var/run/libvirt/libvirt-sock"); err == nil {
		c.Close()
		lv, lvErr, lvRC := virsh(t, libvirtdURI, "sysinfo")
		if si != lv || siErr != lvErr || siRC != lvRC {
			t.Errorf("sysinfo differs from libvirtd's:\n--- govirtd rc=%d\n%s%s--- libvirtd rc=%d\n%s%s", siRC, si, siErr, lvRC, lv, lvErr)
		}
	} else if _, err := os.Stat("/sys/firmware/dmi/tables/DMI"); err != nil {
		if siRC == 0 || !strings.Contains(siErr, "unsupported configuration: Host SMBIOS information is not available") {
			t.Errorf("sysinfo: rc=%d %s", siRC, siErr)
		}
	} else if siRC != 0 || !strings.HasPrefix(si, "<sysinfo type='smbios'") {
		t.Errorf("sysinfo: rc=%d\n%s%s", siRC, si, siErr)
	}
	caps := mustVirsh(t, q, "capabilities")
	if !regexp.MustCompile(`<host>\s*<uuid>[0-9a-f-]{36}</uuid>`).MatchString(caps) {
		t.Errorf("no host uuid in capabilities:\n%s", caps)
	}
	if again := mustVirsh(t, q, "capabilities"); again != caps {
		t.Errorf("host uuid changed between calls")
	}
}
