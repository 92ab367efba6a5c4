package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// allowedCPUs is a thread's Cpus_allowed_list from /proc.
func allowedCPUs(t *testing.T, pid, tid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Cpus_allowed_list:\s*(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no Cpus_allowed_list in /proc/%d/task/%d/status", pid, tid)
	}
	return string(m[1])
}

// qmpThread returns the thread id QEMU reports for a vCPU index or an
// iothread id through virsh qemu-monitor-command.
func qmpThread(t *testing.T, uri, dom, cmd, key string, want any) int {
	t.Helper()
	out := mustVirsh(t, uri, "qemu-monitor-command "+dom+` '{"execute":"`+cmd+`"}'`)
	var r struct {
		Return []map[string]any `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	for _, e := range r.Return {
		if e[key] == want {
			return int(e["thread-id"].(float64))
		}
	}
	t.Fatalf("%s has no %s=%v: %s", cmd, key, want, out)
	return 0
}

// TestQEMUPinningAPIs drives virsh vcpupin, emulatorpin, iothreadinfo and
// iothreadpin on a running guest: the threads QEMU reports move to the
// CPUs asked for (their Cpus_allowed_list), the live and persistent
// definitions record the pins in <cputune> as libvirt writes them, and a
// vCPU or iothread out of range is refused with libvirt's message.
func TestQEMUPinningAPIs(t *testing.T) {
	needQEMU(t)
	if b, _ := os.ReadFile("/sys/devices/system/cpu/online"); strings.TrimSpace(string(b)) == "0" {
		t.Skip("one host CPU: nothing to pin to")
	}
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	xml := testGuestXML(t, "pins", "<iothreads>1</iothreads>", "")
	xml = strings.Replace(xml, "<vcpu>1</vcpu>", "<vcpu placement='static'>2</vcpu>", 1)
	path := filepath.Join(t.TempDir(), "pins.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start pins")
	pid := qemuPidOf(t, "pins")

	// Unpinned: every vCPU may run anywhere.
	all := allowedCPUs(t, pid, pid)
	if out := mustVirsh(t, uri, "vcpupin pins"); !regexp.MustCompile(`(?m)^ 1\s+` + regexp.QuoteMeta(all) + `$`).MatchString(out) {
		t.Errorf("vcpupin before pinning (host CPUs %s):\n%s", all, out)
	}

	mustVirsh(t, uri, "vcpupin pins 1 0")
	tid := qmpThread(t, uri, "pins", "query-cpus-fast", "cpu-index", float64(1))
	if got := allowedCPUs(t, pid, tid); got != "0" {
		t.Errorf("vCPU 1 thread %d allowed on %s, want 0", tid, got)
	}
	if out := mustVirsh(t, uri, "vcpupin pins 1"); !regexp.MustCompile(`(?m)^ 1\s+0$`).MatchString(out) {
		t.Errorf("vcpupin pins 1:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dumpxml pins"); !strings.Contains(out, "<cputune>\n    <vcpupin vcpu='1' cpuset='0'/>\n  </cputune>") {
		t.Errorf("live XML lacks the pin:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dumpxml --inactive pins"); strings.Contains(out, "vcpupin") {
		t.Errorf("a live pin reached the persistent definition:\n%s", out)
	}
	mustVirsh(t, uri, "vcpupin pins 0 1 --config")
	mustVirsh(t, uri, "vcpupin pins 1 0-1 --config")
	if out := mustVirsh(t, uri, "dumpxml --inactive pins"); !strings.Contains(out, "<vcpupin vcpu='0' cpuset='1'/>\n    <vcpupin vcpu='1' cpuset='0-1'/>") {
		t.Errorf("persistent pins not in vcpu order:\n%s", out)
	}
	if _, e, rc := virsh(t, uri, "vcpupin pins 5 0"); rc == 0 || !strings.Contains(e, "invalid argument: vcpu 5 is out of range of live cpu count 2") {
		t.Errorf("vcpupin out of range: rc=%d %s", rc, e)
	}

	mustVirsh(t, uri, "emulatorpin pins 1")
	if got := allowedCPUs(t, pid, pid); got != "1" {
		t.Errorf("emulator thread allowed on %s, want 1", got)
	}
	if out := mustVirsh(t, uri, "emulatorpin pins"); !regexp.MustCompile(`(?m)^\s*\*:\s+1$`).MatchString(out) {
		t.Errorf("emulatorpin:\n%s", out)
	}

	if out := mustVirsh(t, uri, "iothreadinfo pins"); !regexp.MustCompile(`(?m)^ 1\s+` + regexp.QuoteMeta(all) + `$`).MatchString(out) {
		t.Errorf("iothreadinfo before pinning:\n%s", out)
	}
	mustVirsh(t, uri, "iothreadpin pins 1 0")
	itid := qmpThread(t, uri, "pins", "query-iothreads", "id", "iothread1")
	if got := allowedCPUs(t, pid, itid); got != "0" {
		t.Errorf("iothread 1 allowed on %s, want 0", got)
	}
	if out := mustVirsh(t, uri, "iothreadinfo pins"); !regexp.MustCompile(`(?m)^ 1\s+0$`).MatchString(out) {
		t.Errorf("iothreadinfo after pinning:\n%s", out)
	}
	if _, e, rc := virsh(t, uri, "iothreadpin pins 7 0"); rc == 0 || !strings.Contains(e, "invalid argument: iothread 7 not found") {
		t.Errorf("iothreadpin of a missing iothread: rc=%d %s", rc, e)
	}
	mustVirsh(t, uri, "destroy pins")
	// The persistent pins apply at the next start.
	mustVirsh(t, uri, "start pins")
	pid = qemuPidOf(t, "pins")
	if got := allowedCPUs(t, pid, qmpThread(t, uri, "pins", "query-cpus-fast", "cpu-index", float64(0))); got != "1" {
		t.Errorf("vCPU 0 after restart allowed on %s, want 1 (persistent pin)", got)
	}
	mustVirsh(t, uri, "destroy pins")
}
