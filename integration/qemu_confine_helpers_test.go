package integration

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// procUID is the real uid of a process ("" when it is gone).
func procUID(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

// TestQEMUDACHelpers: with QEMU confined, each helper runs as libvirt
// runs it: passt as QEMU's user, swtpm as tss (libvirt's default
// swtpm_user) with its state given to tss, and QEMU reaches both (its
// TPM answers query-tpm, its NIC's passt socket is connected).
func TestQEMUDACHelpers(t *testing.T) {
	for _, b := range []string{"passt", "swtpm", "swtpm_setup"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed")
		}
	}
	tss, err := user.Lookup("tss")
	if err != nil {
		t.Skip("no tss user")
	}
	s := newDACSetup(t, "")
	uri := s.d.URI("qemu")
	img := s.image(t, "h.qcow2", "")
	xml := testGuestXML(t, "dachelp", "", fmt.Sprintf(`    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'>
      <mac address='52:54:00:cc:00:65'/>
      <model type='virtio'/>
      <backend type='passt'/>
    </interface>
    <tpm model='tpm-crb'>
      <backend type='emulator' version='2.0'/>
    </tpm>
`, img))
	k, i := testguest.Ensure(t)
	xml = strings.Replace(strings.Replace(xml, k, s.kernel, 1), i, s.initrd, 1)
	xml = strings.Replace(xml, "<domain type='kvm'>", "<domain type='qemu'>", 1)
	mustVirsh(t, uri, "define "+writeTemp(t, "dachelp.xml", xml))
	mustVirsh(t, uri, "start dachelp")
	waitState(t, s.d, "dachelp", "running (booted)", 30*time.Second)

	pst := procsWithArg("52:54:00:cc:00:65")
	if len(pst) == 0 {
		t.Fatalf("no passt\n%s", s.d.Log())
	}
	if u := procUID(pst[0]); u != fmt.Sprint(dacUID) {
		t.Errorf("passt runs as uid %s, want QEMU's %d", u, dacUID)
	}
	runDir := filepath.Join(s.d.dir, "run", "qemu", "domain", "dachelp.d")
	pid := swtpmPid(t, runDir)
	if pid == 0 {
		t.Fatalf("no swtpm\n%s", s.d.Log())
	}
	if u := procUID(pid); u != tss.Uid {
		t.Errorf("swtpm runs as uid %s, want tss (%s)", u, tss.Uid)
	}
	wantInGuestCgroup(t, s.d, "dachelp", pid, "swtpm")
	wantInGuestCgroup(t, s.d, "dachelp", pst[0], "passt")
	states, _ := filepath.Glob(filepath.Join(s.d.dir, "state", "qemu", "swtpm", "*", "tpm2"))
	if len(states) != 1 {
		t.Fatalf("TPM state dirs: %v", states)
	}
	wantOwner(t, "TPM state", states[0], tss.Uid+":"+tss.Gid)
	out := mustVirsh(t, uri, `qemu-monitor-command dachelp '{"execute":"query-tpm"}'`)
	if !strings.Contains(out, `"type":"emulator"`) {
		t.Errorf("query-tpm: %s", out)
	}
	mustVirsh(t, uri, "destroy dachelp")
	deadline := time.Now().Add(15 * time.Second)
	for processIs(pid, "swtpm") || len(procsWithArg("52:54:00:cc:00:65")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("swtpm or passt outlived the guest")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantInGuestCgroup: process pid (a helper such as swtpm) is in the same
// cgroups as the guest's QEMU, its emulator group, as libvirt's
// qemuSetupCgroupForExtDevices places it.
func wantInGuestCgroup(t *testing.T, d *daemon, name string, pid int, what string) {
	t.Helper()
	qemu := guestPID(t, d, name)
	want, err1 := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", qemu))
	got, err2 := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err1 != nil || err2 != nil {
		t.Fatalf("cgroups of QEMU %d and %s %d: %v %v", qemu, what, pid, err1, err2)
	}
	if string(got) != string(want) || !strings.Contains(string(got), "qemu-") || !strings.Contains(string(got), "/emulator") {
		t.Errorf("%s's cgroups:\n%swant QEMU's:\n%s", what, got, want)
	}
}
