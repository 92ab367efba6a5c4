package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQEMUFirmwareTPM starts, through virsh, a guest asking for UEFI by
// <os firmware='efi'> and an emulated TPM 2.0: govirtd picks the firmware
// from the host's QEMU descriptors, creates the varstore from the chosen
// template at the first start, starts swtpm (setting its state up once)
// and QEMU reaches the TPM through it; swtpm goes with QEMU, the varstore
// and TPM state stay for the next start.
func TestQEMUFirmwareTPM(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	descs, _ := filepath.Glob("/usr/share/qemu/firmware/*x86_64*.json")
	if len(descs) == 0 {
		t.Skip("no UEFI firmware descriptors (ovmf not installed)")
	}
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Skip("swtpm not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	xml := `<domain type='qemu'>
  <name>fwtpm</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <features><acpi/></features>
  <devices>
    <tpm model='tpm-crb'>
      <backend type='emulator' version='2.0'/>
    </tpm>
    <graphics type='vnc' listen='127.0.0.1' autoport='yes'/>
  </devices>
</domain>
`
	path := filepath.Join(t.TempDir(), "fwtpm.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	nvram := filepath.Join(d.dir, "state", "qemu", "nvram", "fwtpm_VARS.fd")
	runDir := filepath.Join(d.dir, "run", "qemu", "domain", "fwtpm.d")

	mustVirsh(t, uri, "start fwtpm")
	waitState(t, d, "fwtpm", "running (booted)", 30*time.Second)
	st, err := os.Stat(nvram)
	if err != nil {
		t.Fatalf("varstore not created: %v", err)
	}
	if st.Size() == 0 {
		t.Fatalf("varstore %s is empty", nvram)
	}
	live := mustVirsh(t, uri, "dumpxml fwtpm")
	for _, want := range []string{"type='pflash'>/usr/share/", "<nvram template='/usr/share/", "_VARS.fd</nvram>"} {
		if !strings.Contains(live, want) {
			t.Errorf("live XML lacks %q:\n%s", want, live)
		}
	}
	if inactive := mustVirsh(t, uri, "dumpxml --inactive fwtpm"); !strings.Contains(inactive, "firmware='efi'") {
		t.Errorf("the persistent definition lost firmware='efi':\n%s", inactive)
	}
	pid := swtpmPid(t, runDir)
	if pid == 0 {
		t.Fatalf("no swtpm running for the guest\n%s", d.Log())
	}
	wantInGuestCgroup(t, d, "fwtpm", pid, "swtpm")
	out := mustVirsh(t, uri, `qemu-monitor-command fwtpm '{"execute":"query-tpm"}'`)
	for _, want := range []string{`"model":"tpm-crb"`, `"type":"emulator"`} {
		if !strings.Contains(strings.ReplaceAll(out, " ", ""), want) {
			t.Errorf("query-tpm lacks %s: %s", want, out)
		}
	}
	states, _ := filepath.Glob(filepath.Join(d.dir, "state", "qemu", "swtpm", "*", "tpm2", "*"))
	if len(states) == 0 {
		t.Errorf("no TPM state written")
	}
	// The firmware owns the varstore now: a later start must keep it, not
	// copy the template over it. Mark it to tell.
	mark := []byte("govirt-test-mark")
	f, err := os.OpenFile(nvram, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(mark, st.Size()-int64(len(mark)))
	f.Close()

	mustVirsh(t, uri, "destroy fwtpm")
	waitState(t, d, "fwtpm", "shut off (destroyed)", 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for processIs(pid, "swtpm") {
		if time.Now().After(deadline) {
			t.Fatalf("swtpm %d outlived its guest", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}

	mustVirsh(t, uri, "start fwtpm")
	waitState(t, d, "fwtpm", "running (booted)", 30*time.Second)
	after, _ := os.ReadFile(nvram)
	if !bytes.HasSuffix(after, mark) {
		t.Errorf("the second start replaced the varstore")
	}
	if swtpmPid(t, runDir) == 0 {
		t.Errorf("no swtpm on the second start")
	}
	mustVirsh(t, uri, "destroy fwtpm")
	waitState(t, d, "fwtpm", "shut off (destroyed)", 10*time.Second)
	// --reset-nvram starts over from the template.
	mustVirsh(t, uri, "start fwtpm --reset-nvram")
	waitState(t, d, "fwtpm", "running (booted)", 30*time.Second)
	if after, _ := os.ReadFile(nvram); bytes.HasSuffix(after, mark) {
		t.Errorf("start --reset-nvram kept the old varstore")
	}
	mustVirsh(t, uri, "destroy fwtpm")
	// libvirt keeps a varstore only when asked; undefining without a
	// word about it is refused.
	if _, errOut, rc := virsh(t, uri, "undefine fwtpm"); rc == 0 || !strings.Contains(errOut, "cannot undefine domain with nvram") {
		t.Errorf("undefine without --nvram: rc=%d %s", rc, errOut)
	}
	mustVirsh(t, uri, "undefine fwtpm --nvram")
	if _, err := os.Stat(nvram); !os.IsNotExist(err) {
		t.Errorf("varstore left after undefine --nvram: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(d.dir, "state", "qemu", "swtpm", "*")); len(left) > 0 {
		t.Errorf("TPM state left after undefine: %v", left)
	}
}

// swtpmPid is the running swtpm of a guest's run directory, 0 if none.
func swtpmPid(t *testing.T, runDir string) int {
	data, err := os.ReadFile(filepath.Join(runDir, "swtpm.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if !processIs(pid, "swtpm") {
		return 0
	}
	return pid
}

func processIs(pid int, comm string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return false
	}
	if strings.TrimSpace(string(data)) != comm {
		return false
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z"))
}

// TestQEMUPinning starts a guest with <vcpu cpuset> and <cputune> pins
// through virsh and reads each QEMU thread's allowed CPUs from /proc.
func TestQEMUPinning(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two host CPUs")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	xml := testGuestXML(t, "pin", `<iothreads>1</iothreads>
  <cputune>
    <vcpupin vcpu='1' cpuset='1'/>
    <emulatorpin cpuset='1'/>
    <iothreadpin iothread='1' cpuset='0-1'/>
    <vcpusched vcpus='1' scheduler='batch'/>
    <iothreadsched iothreads='1' scheduler='idle'/>
  </cputune>`, "")
	xml = strings.Replace(xml, "<vcpu>1</vcpu>", "<vcpu cpuset='0'>2</vcpu>", 1)
	path := filepath.Join(t.TempDir(), "pin.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start pin")
	waitState(t, d, "pin", "running (booted)", 30*time.Second)
	allowed := func(pid, tid int) string {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	type thread struct {
		CPU int `json:"cpu-index"`
		TID int `json:"thread-id"`
		ID  string
	}
	var cpus, its struct{ Return []thread }
	qmpJSON(t, uri, "pin", "query-cpus-fast", &cpus)
	qmpJSON(t, uri, "pin", "query-iothreads", &its)
	pidOut, err := exec.Command("pgrep", "-f", "guest=pin,").Output()
	if err != nil {
		t.Fatalf("no QEMU: %v", err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(pidOut))[0])
	want := map[int]string{0: "0", 1: "1"}
	for _, c := range cpus.Return {
		if got := allowed(pid, c.TID); got != want[c.CPU] {
			t.Errorf("vcpu %d runs on %q, want %q", c.CPU, got, want[c.CPU])
		}
	}
	if len(its.Return) != 1 || allowed(pid, its.Return[0].TID) != "0-1" {
		t.Errorf("iothread pinning wrong: %+v", its.Return)
	}
	if got := allowed(pid, pid); got != "1" {
		t.Errorf("emulator runs on %q, want 1", got)
	}
	policy := func(tid int) string {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/sched", pid, tid))
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "policy") {
				f := strings.Fields(l)
				return f[len(f)-1]
			}
		}
		return ""
	}
	for _, c := range cpus.Return {
		want := map[int]string{0: "0", 1: "3"}[c.CPU] // SCHED_OTHER, SCHED_BATCH
		if got := policy(c.TID); got != want {
			t.Errorf("vcpu %d policy %q, want %q", c.CPU, got, want)
		}
	}
	if got := policy(its.Return[0].TID); got != "5" { // SCHED_IDLE
		t.Errorf("iothread policy %q, want 5", got)
	}
	mustVirsh(t, uri, "destroy pin")
	mustVirsh(t, uri, "undefine pin")
}

// qmpJSON runs a QMP command through virsh qemu-monitor-command.
func qmpJSON(t *testing.T, uri, dom, cmd string, out any) {
	t.Helper()
	s := mustVirsh(t, uri, fmt.Sprintf(`qemu-monitor-command %s '{"execute":"%s"}'`, dom, cmd))
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, s)
	}
}

// TestQEMUFileBackedMemory starts a guest whose RAM is a shared file in
// govirt's memory backing directory: the directory is made before QEMU
// starts and the file and directory are gone after destroy.
func TestQEMUFileBackedMemory(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	xml := testGuestXML(t, "filemem", `<memoryBacking>
    <source type='file'/>
    <access mode='shared'/>
  </memoryBacking>`, "")
	path := filepath.Join(t.TempDir(), "filemem.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start filemem")
	waitState(t, d, "filemem", "running (booted)", 30*time.Second)
	files, _ := filepath.Glob(filepath.Join(d.dir, "state", "qemu", "ram", "*", "pc.ram"))
	if len(files) != 1 {
		t.Fatalf("RAM file not found: %v", files)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Size() != 128<<20 {
		t.Errorf("RAM file %s: %v %v", files[0], st, err)
	}
	mustVirsh(t, uri, "destroy filemem")
	waitState(t, d, "filemem", "shut off (destroyed)", 10*time.Second)
	if _, err := os.Stat(filepath.Dir(files[0])); !os.IsNotExist(err) {
		t.Errorf("RAM directory left after destroy: %v", err)
	}
	mustVirsh(t, uri, "undefine filemem")
}
