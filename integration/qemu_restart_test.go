package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// guestPID reads a running guest's QEMU pid from its status file.
func guestPID(t *testing.T, d *daemon, name string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.dir, "run", "qemu", name+".status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(data, &st); err != nil || st.PID <= 0 {
		t.Fatalf("status of %s: %v %s", name, err, data)
	}
	return st.PID
}

func startGuests(t *testing.T, d *daemon, names ...string) {
	t.Helper()
	for _, n := range names {
		defineGuest(t, d, n, "")
		mustVirsh(t, d.URI("qemu"), "start "+n)
	}
	for _, n := range names {
		waitState(t, d, n, "running (booted)", 10*time.Second)
	}
}

// TestQEMUDaemonKilledGuestsSurvive kills govirtd with SIGKILL while three
// guests run; after a restart all three are reconnected, keep their
// QEMU, and obey suspend, resume and destroy.
func TestQEMUDaemonKilledGuestsSurvive(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	names := []string{"r1", "r2", "r3"}
	startGuests(t, d, names...)
	pids := map[string]int{}
	for _, n := range names {
		pids[n] = guestPID(t, d, n)
	}
	d.crashRestart()
	uri := d.URI("qemu")
	list := mustVirsh(t, uri, "list --name")
	for _, n := range names {
		if !strings.Contains(list, n) {
			t.Fatalf("%s missing after restart:\n%s\n%s", n, list, d.Log())
		}
		if got := guestPID(t, d, n); got != pids[n] {
			t.Errorf("%s: QEMU pid %d, was %d", n, got, pids[n])
		}
		waitState(t, d, n, "running (booted)", 5*time.Second)
		mustVirsh(t, uri, "suspend "+n)
		waitState(t, d, n, "paused (user)", 5*time.Second)
		mustVirsh(t, uri, "resume "+n)
		mustVirsh(t, uri, "destroy "+n)
		waitState(t, d, n, "shut off (destroyed)", 5*time.Second)
		if processAlive(pids[n]) {
			t.Errorf("%s: QEMU %d still alive after destroy", n, pids[n])
		}
	}
}

// TestQEMUStatusWithoutCaps strips the QEMU capabilities from a running
// guest's status: the restarted daemon reports a clear error for it and
// leaves its QEMU alone.
func TestQEMUStatusWithoutCaps(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	startGuests(t, d, "nc")
	pid := guestPID(t, d, "nc")
	d.cmd.Process.Kill()
	d.cmd.Wait()
	path := filepath.Join(d.dir, "run", "qemu", "nc.status.json")
	data, _ := os.ReadFile(path)
	var st map[string]any
	json.Unmarshal(data, &st)
	delete(st, "qemu_caps")
	data, _ = json.Marshal(st)
	os.WriteFile(path, data, 0o600)
	d.launch()
	if !strings.Contains(d.Log(), "has no QEMU capabilities") {
		t.Errorf("daemon log lacks the error:\n%s", d.Log())
	}
	_, errOut, rc := virsh(t, d.URI("qemu"), "suspend nc")
	if rc == 0 || !strings.Contains(errOut, "has no QEMU capabilities") {
		t.Errorf("suspend: rc=%d %s", rc, errOut)
	}
	if !processAlive(pid) {
		t.Errorf("QEMU %d was not left alone", pid)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// TestQEMUKilledFromOutside kills a guest's QEMU behind govirtd's back: the
// guest shows as shut off (crashed) and the event arrives.
func TestQEMUKilledFromOutside(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	startGuests(t, d, "kx")
	ev := watchEvents(t, d.URI("qemu"))
	syscall.Kill(guestPID(t, d, "kx"), syscall.SIGKILL)
	waitState(t, d, "kx", "shut off (crashed)", 10*time.Second)
	ev.expect(t, []string{"'lifecycle' for domain 'kx': Stopped Failed"}, 5*time.Second)
	if _, err := os.Stat(filepath.Join(d.dir, "run", "qemu", "kx.status.json")); err == nil {
		t.Errorf("status file of a stopped guest left behind")
	}
}

// TestQEMUStoppedGuestDoesNotBlockReads freezes one guest's QEMU with
// SIGSTOP; listing and dominfo of the others stay fast.
func TestQEMUStoppedGuestDoesNotBlockReads(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	startGuests(t, d, "s1", "s2")
	pid := guestPID(t, d, "s1")
	syscall.Kill(pid, syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGCONT)
	// A write to the frozen guest waits on its monitor in the background.
	bg := exec.Command("virsh", "-c", d.URI("qemu"), "suspend s1")
	bg.Start()
	defer func() { bg.Process.Kill(); bg.Wait() }()
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ {
		start := time.Now()
		list := mustVirsh(t, d.URI("qemu"), "list --all")
		info := mustVirsh(t, d.URI("qemu"), "dominfo s2; dominfo s1")
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("reads took %v with a frozen guest", el)
		}
		if !strings.Contains(list, "s1") || !strings.Contains(info, "running") {
			t.Errorf("list/dominfo:\n%s\n%s", list, info)
		}
	}
}

// processAlive is false for a gone or zombie process: a QEMU orphaned by
// the killed daemon may linger as a zombie when PID 1 does not reap.
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// TestQEMUAutostartAndUnsupported checks autostart at daemon start, and
// that an element the driver does not honour fails start with
// VIR_ERR_CONFIG_UNSUPPORTED naming it, leaving the guest defined and off.
func TestQEMUAutostartAndUnsupported(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuest(t, d, "au", "")
	mustVirsh(t, uri, "autostart au")
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	d.launch()
	waitState(t, d, "au", "running (booted)", 30*time.Second)
	mustVirsh(t, uri, "destroy au")

	defineGuest(t, d, "un", "<devices><hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' slot='7' function='0'/></source></hostdev></devices>")
	// A host device this host lacks fails the start as in libvirt, which
	// records the failure as the reason.
	_, errOut, rc := virsh(t, uri, "start un")
	if rc == 0 || !strings.Contains(errOut, "Device 0000:00:07.0 not found") {
		t.Errorf("start with a missing <hostdev>: rc=%d %s", rc, errOut)
	}
	waitState(t, d, "un", "shut off (failed)", 5*time.Second)
}

// TestQEMUCapabilities checks virsh version, capabilities and
// domcapabilities from the QEMU driver; both documents validate against
// libvirt's schemas.
func TestQEMUCapabilities(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	d := startDaemon(t)
	uri := d.URI("qemu")
	if out := mustVirsh(t, uri, "version"); !strings.Contains(out, "Running hypervisor: QEMU 7.") {
		t.Errorf("version:\n%s", out)
	}
	caps := mustVirsh(t, uri, "capabilities")
	for _, want := range []string{"<arch name='x86_64'>", "canonical='pc-q35-7.2'", "<domain type='qemu'/>"} {
		if !strings.Contains(caps, want) {
			t.Errorf("capabilities lack %q", want)
		}
	}
	dc := mustVirsh(t, uri, "domcapabilities --machine q35")
	if !strings.Contains(dc, "<machine>pc-q35-7.2</machine>") || !strings.Contains(dc, "<value>virtio</value>") {
		t.Errorf("domcapabilities:\n%s", dc)
	}
	schemas := conformanceDir(t) + "/schemas/"
	for doc, rng := range map[string]string{caps: "capability.rng", dc: "domaincaps.rng"} {
		cmd := exec.Command("xmllint", "--noout", "--relaxng", schemas+rng, "-")
		cmd.Stdin = strings.NewReader(doc)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", rng, err, out)
		}
	}
}

// conformanceDir finds libvirt's test data, skipping when it is absent.
func conformanceDir(t *testing.T) string {
	dir := os.Getenv("GOVIRT_CONFORMANCE_DIR")
	if dir == "" {
		dir, _ = filepath.Abs("../../shared/conformance/libvirt-9.0.0")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("libvirt conformance data not found at %s", dir)
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed")
	}
	return dir
}
