package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUSecureBootTPMRestarts: a guest asking for UEFI with secure boot
// and enrolled keys (<firmware><feature>) and a TPM 2.0 emulator, under
// TCG. As libvirt, govirtd picks the secure firmware (Debian's
// 40-edk2-x86_64-secure-enrolled.json), turns SMM on (the descriptor
// requires it; TCG emulates it) and marks the loader secure. OVMF proves
// it runs with secure boot enforced on the serial line: its BDS refuses
// the unsigned built-in EFI shell with "Security Violation". The varstore
// and the TPM state are kept across a guest restart and across a govirtd
// killed with the guest running, then go with undefine --nvram --tpm.
func TestQEMUSecureBootTPMRestarts(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	if _, err := os.Stat("/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json"); err != nil {
		t.Skip("no secure-boot OVMF descriptor (Debian ovmf)")
	}
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Skip("swtpm not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	serial := filepath.Join(d.dir, "sb-serial.log")
	xml := `<domain type='qemu'>
  <name>sb</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
    <firmware>
      <feature enabled='yes' name='secure-boot'/>
      <feature enabled='yes' name='enrolled-keys'/>
    </firmware>
  </os>
  <features><acpi/></features>
  <devices>
    <serial type='file'>
      <source path='` + serial + `'/>
    </serial>
    <tpm model='tpm-crb'>
      <backend type='emulator' version='2.0'/>
    </tpm>
  </devices>
</domain>
`
	path := filepath.Join(t.TempDir(), "sb.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	uuid := strings.TrimSpace(mustVirsh(t, uri, "domuuid sb"))
	nvram := filepath.Join(d.dir, "state", "qemu", "nvram", "sb_VARS.fd")
	tpmDir := filepath.Join(d.dir, "state", "qemu", "swtpm", uuid)
	tpmState := filepath.Join(tpmDir, "tpm2", "tpm2-00.permall")
	runDir := filepath.Join(d.dir, "run", "qemu", "domain", "sb.d")

	// bootedSecure waits for OVMF's boot manager to refuse the unsigned
	// shell on the serial log (each start truncates the file, as libvirt
	// opens a file chardev without append='on').
	bootedSecure := func() {
		t.Helper()
		deadline := time.Now().Add(bootTimeout())
		for time.Now().Before(deadline) {
			data, _ := os.ReadFile(serial)
			out := string(data)
			if strings.Contains(out, `failed to start Boot0001 "EFI Internal Shell"`) && strings.Contains(out, "Security Violation") {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		data, _ := os.ReadFile(serial)
		t.Fatalf("OVMF did not enforce secure boot on the serial console; it wrote:\n%q\n%s", data, d.Log())
	}

	mustVirsh(t, uri, "start sb")
	waitState(t, d, "sb", "running (booted)", 30*time.Second)
	bootedSecure()

	// What libvirt 9.0's live XML shows for this guest (checked against
	// libvirtd on this host): the loader and varstore the descriptor
	// names, secure='yes' and SMM on.
	live := mustVirsh(t, uri, "dumpxml sb")
	for _, want := range []string{
		"<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>",
		"<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>" + nvram + "</nvram>",
		"<smm state='on'/>",
		"<feature enabled='yes' name='enrolled-keys'/>",
	} {
		if !strings.Contains(live, want) {
			t.Errorf("live XML lacks %q:\n%s", want, live)
		}
	}
	if inactive := mustVirsh(t, uri, "dumpxml --inactive sb"); strings.Contains(inactive, "<loader") || strings.Contains(inactive, "<smm") {
		t.Errorf("the persistent definition got the start's choices:\n%s", inactive)
	}
	tmpl, err := os.ReadFile("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tpmState); err != nil {
		t.Fatalf("no TPM state: %v", err)
	}
	swtpm1 := swtpmPid(t, runDir)
	if swtpm1 == 0 {
		t.Fatalf("no swtpm for the guest")
	}

	// Guest restart: the firmware's varstore stays (marked here, while
	// QEMU is gone, to tell it from a fresh copy of the template) and so
	// does the TPM the first start manufactured.
	mustVirsh(t, uri, "destroy sb")
	waitState(t, d, "sb", "shut off (destroyed)", 10*time.Second)
	vars, err := os.ReadFile(nvram)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(vars, tmpl) {
		t.Errorf("OVMF wrote nothing to its varstore")
	}
	mark := []byte("govirt-test-mark")
	copy(vars[len(vars)-len(mark):], mark)
	if err := os.WriteFile(nvram, vars, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tpmDir, "tpm2", "govirt-test-mark"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	mustVirsh(t, uri, "start sb")
	waitState(t, d, "sb", "running (booted)", 30*time.Second)
	bootedSecure()
	if got, _ := os.ReadFile(nvram); !bytes.HasSuffix(got, mark) {
		t.Errorf("the restart replaced the varstore")
	}
	tpmKept(t, d, filepath.Dir(tpmState))
	swtpm2 := swtpmPid(t, runDir)
	if swtpm2 == 0 {
		t.Fatalf("no swtpm on the restart")
	}

	// govirtd killed and started again with the guest running: it keeps
	// the guest, its swtpm, varstore and TPM state, and a destroy ends the
	// swtpm it did not start itself.
	d.crashRestart()
	waitState(t, d, "sb", "running (booted)", 30*time.Second)
	if swtpmPid(t, runDir) != swtpm2 {
		t.Errorf("swtpm %d did not survive the daemon restart", swtpm2)
	}
	mustVirsh(t, uri, "destroy sb")
	waitState(t, d, "sb", "shut off (destroyed)", 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for processIs(swtpm2, "swtpm") {
		if time.Now().After(deadline) {
			t.Fatalf("swtpm %d outlived its guest after the daemon restart", swtpm2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustVirsh(t, uri, "start sb")
	waitState(t, d, "sb", "running (booted)", 30*time.Second)
	bootedSecure()
	if got, _ := os.ReadFile(nvram); !bytes.HasSuffix(got, mark) {
		t.Errorf("the start after the daemon restart replaced the varstore")
	}
	tpmKept(t, d, filepath.Dir(tpmState))
	mustVirsh(t, uri, "destroy sb")
	waitState(t, d, "sb", "shut off (destroyed)", 10*time.Second)

	// Undefining: refused without a word on the varstore, as libvirt;
	// --nvram --tpm removes both.
	if _, errOut, rc := virsh(t, uri, "undefine sb"); rc == 0 || !strings.Contains(errOut, "cannot undefine domain with nvram") {
		t.Errorf("undefine without --nvram: rc=%d %s", rc, errOut)
	}
	mustVirsh(t, uri, "undefine sb --nvram --tpm")
	if _, err := os.Stat(nvram); !os.IsNotExist(err) {
		t.Errorf("varstore left after undefine --nvram: %v", err)
	}
	if _, err := os.Stat(tpmDir); !os.IsNotExist(err) {
		t.Errorf("TPM state left after undefine --tpm: %v", err)
	}
}

// tpmKept tells a kept TPM from one manufactured again: a file the test
// left in the state directory is still there and the swtpm log shows
// swtpm_setup ran once (the state file itself changes on every run).
func tpmKept(t *testing.T, d *daemon, stateDir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(stateDir, "govirt-test-mark")); err != nil {
		t.Errorf("the TPM state directory was made anew: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "tpm2-00.permall")); err != nil {
		t.Errorf("TPM state: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(d.dir, "state", "qemu", "log", "sb-swtpm.log"))
	if n := strings.Count(string(data), "Starting vTPM manufacturing"); n != 1 {
		t.Errorf("the TPM was manufactured %d times:\n%s", n, data)
	}
}
