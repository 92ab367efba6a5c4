package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUTPMEncryptedState (issue 17): an emulated TPM whose state is
// encrypted with a vtpm secret (<backend type='emulator'><encryption
// secret='UUID'/>), as libvirt's qemu_tpm.c runs it: swtpm_setup gets
// the passphrase with --pwdfile-fd and --cipher aes-256-cbc, swtpm with
// --key and --migration-key pwdfd=N,mode=aes-256-cbc, each through a pipe
// (never on a command line). The guest boots; the state written is not
// readable with another passphrase: after the secret's value changes the
// guest no longer starts, and with the old value it does again.
func TestQEMUTPMEncryptedState(t *testing.T) {
	needQEMU(t)
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Skip("swtpm not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	const secUUID = "5e1e7c3a-0000-4000-8000-00000000f001"
	const pass = "govirt-vtpm-passphrase-41c9"
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mustVirsh(t, uri, "secret-define "+write("sec.xml", `<secret ephemeral='no' private='yes'><uuid>`+secUUID+`</uuid>
  <usage type='vtpm'><name>tpmguest</name></usage></secret>`))
	mustVirsh(t, uri, "secret-set-value "+secUUID+" --file "+write("pass", pass)+" --plain")
	sock := filepath.Join(d.dir, "tpmguest.console")
	mustVirsh(t, uri, "define "+write("dom.xml", testGuestXML(t, "tpmguest", "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <tpm model='tpm-crb'>
      <backend type='emulator' version='2.0'>
        <encryption secret='%s'/>
      </backend>
    </tpm>
`, sock, secUUID))))
	runDir := filepath.Join(d.dir, "run", "qemu", "domain", "tpmguest.d")

	mustVirsh(t, uri, "start tpmguest")
	con := console(t, sock)
	if _, err := con.Expect("GOVIRT-GUEST-READY", 2*bootTimeout()); err != nil {
		logs, _ := filepath.Glob(filepath.Join(d.dir, "state", "qemu", "log", "tpmguest*.log"))
		var text string
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			text += l + ":\n" + string(b)
		}
		t.Fatalf("guest did not boot: %v\n%s\n%s\n%s", err, con.Output(), text, d.Log())
	}
	pid := swtpmPid(t, runDir)
	if pid == 0 {
		t.Fatalf("no swtpm running\n%s", d.Log())
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.ReplaceAll(string(cmdline), "\x00", " ")
	for _, want := range []string{"--key pwdfd=", ",mode=aes-256-cbc", "--migration-key pwdfd="} {
		if !strings.Contains(args, want) {
			t.Errorf("swtpm's command line lacks %q: %s", want, args)
		}
	}
	if strings.Contains(args, pass) {
		t.Errorf("the passphrase is on swtpm's command line: %s", args)
	}
	if out := mustVirsh(t, uri, `qemu-monitor-command tpmguest '{"execute":"query-tpm"}'`); !strings.Contains(out, `"tpm-crb"`) {
		t.Errorf("query-tpm: %s", out)
	}
	states, _ := filepath.Glob(filepath.Join(d.dir, "state", "qemu", "swtpm", "*", "tpm2", "tpm2-00.permall"))
	if len(states) != 1 {
		t.Fatalf("TPM state files: %v", states)
	}
	mustVirsh(t, uri, "destroy tpmguest")

	// Another passphrase cannot open the state.
	mustVirsh(t, uri, "secret-set-value "+secUUID+" --file "+write("pass2", "some-other-passphrase")+" --plain")
	if _, e, rc := virsh(t, uri, "start tpmguest"); rc == 0 {
		t.Errorf("the guest started with another TPM passphrase")
		virsh(t, uri, "destroy tpmguest")
	} else {
		t.Logf("start with another passphrase: %s", strings.TrimSpace(e))
	}
	mustVirsh(t, uri, "secret-set-value "+secUUID+" --file "+filepath.Join(dir, "pass")+" --plain")
	mustVirsh(t, uri, "start tpmguest")
	waitState(t, d, "tpmguest", "running (booted)", 30*time.Second)
	if swtpmPid(t, runDir) == 0 {
		t.Errorf("no swtpm on the second start")
	}
	mustVirsh(t, uri, "destroy tpmguest")

	// A secret of another usage type is refused, as libvirt's
	// virSecretGetSecretString does.
	mustVirsh(t, uri, "secret-undefine "+secUUID)
	mustVirsh(t, uri, "secret-define "+write("sec2.xml", `<secret ephemeral='no' private='yes'><uuid>`+secUUID+`</uuid>
  <usage type='volume'><volume>/x</volume></usage></secret>`))
	mustVirsh(t, uri, "secret-set-value "+secUUID+" --file "+filepath.Join(dir, "pass")+" --plain")
	if _, e, rc := virsh(t, uri, "start tpmguest"); rc == 0 || !strings.Contains(e, "is of type 'volume' not expected 'vtpm' type") {
		t.Errorf("start with a volume secret: rc=%d %s", rc, e)
	}
}
