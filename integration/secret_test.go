package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The secret UUIDs the tests define, on govirtd and on libvirtd (where
// every one is undefined again afterwards).
const (
	secA = "5e1e7c3a-0000-4000-8000-00000000a001"
	secB = "5e1e7c3a-0000-4000-8000-00000000a002"
	secC = "5e1e7c3a-0000-4000-8000-00000000a003"
)

// secretScript is a virsh session over the secret commands, with
// libvirt's errors along the way; each step is run on govirtd and, when
// it is reachable, on libvirtd 9.0, and the outputs compared.
func secretScript(dir string) [][]string {
	f := func(name string) string { return filepath.Join(dir, name) }
	return [][]string{
		{"secret-list"},
		{"secret-define", f("a.xml")},
		{"secret-dumpxml", secA},
		{"secret-get-value", secA},
		{"secret-set-value", secA, "--file", f("val"), "--plain"},
		{"secret-get-value", secA},
		{"secret-get-value", secA, "--plain"},
		{"secret-define", f("b.xml")},
		{"secret-set-value", secB, "--file", f("val")},
		{"secret-get-value", secB},
		{"secret-dumpxml", secB},
		{"secret-define", f("c.xml")},
		{"secret-dumpxml", secC},
		{"secret-list"},
		{"secret-list", "--ephemeral"},
		{"secret-list", "--no-ephemeral"},
		{"secret-list", "--private"},
		{"secret-list", "--no-private", "--no-ephemeral"},
		// Errors of the parser and of the store.
		{"secret-define", f("dup-usage.xml")},
		{"secret-define", f("change-usage.xml")},
		{"secret-define", f("unprivate.xml")},
		{"secret-define", f("bad-type.xml")},
		{"secret-define", f("no-type.xml")},
		{"secret-define", f("bad-uuid.xml")},
		{"secret-define", f("bad-root.xml")},
		{"secret-define", f("no-volume.xml")},
		{"secret-define", "--validate", f("extra.xml")},
		{"secret-dumpxml", "5e1e7c3a-0000-4000-8000-00000000dead"},
		// A persistent secret turned ephemeral keeps its value.
		{"secret-define", f("a-ephemeral.xml")},
		{"secret-get-value", secA},
		{"secret-undefine", secA},
		{"secret-undefine", secB},
		{"secret-undefine", secC},
		{"secret-undefine", secC},
		{"secret-list"},
	}
}

var secretFiles = map[string]string{
	"val": "hunter2",
	"a.xml": `<secret ephemeral='no' private='no'>
  <uuid>` + secA + `</uuid>
  <description>govirt test a</description>
  <usage type='volume'><volume>/var/lib/govirt-test/a.img</volume></usage>
</secret>`,
	"a-ephemeral.xml": `<secret ephemeral='yes'><uuid>` + secA + `</uuid><usage type='volume'><volume>/var/lib/govirt-test/a.img</volume></usage></secret>`,
	"b.xml": `<secret ephemeral='yes' private='yes'>
  <uuid>` + secB + `</uuid>
  <usage type='ceph'><name>govirt-test client.admin</name></usage>
</secret>`,
	"c.xml":            `<secret private='no'><uuid>` + secC + `</uuid><description>no usage &amp; &lt;b&gt;</description></secret>`,
	"dup-usage.xml":    `<secret><usage type='volume'><volume>/var/lib/govirt-test/a.img</volume></usage></secret>`,
	"change-usage.xml": `<secret private='yes'><uuid>` + secB + `</uuid><usage type='ceph'><name>other</name></usage></secret>`,
	"unprivate.xml":    `<secret ephemeral='yes' private='no'><uuid>` + secB + `</uuid><usage type='ceph'><name>govirt-test client.admin</name></usage></secret>`,
	"bad-type.xml":     `<secret><usage type='bogus'/></secret>`,
	"no-type.xml":      `<secret><usage/></secret>`,
	"bad-uuid.xml":     `<secret><uuid>zz</uuid></secret>`,
	"bad-root.xml":     `<secreta/>`,
	"no-volume.xml":    `<secret><usage type='volume'/></secret>`,
	"extra.xml":        `<secret><usage type='tls'><name>govirt-test</name></usage><foo/></secret>`,
}

func writeSecretFiles(t *testing.T) string {
	dir := t.TempDir()
	for n, c := range secretFiles {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runSecretScript(t *testing.T, uri, dir string) []string {
	var out []string
	for _, step := range secretScript(dir) {
		o, e, rc := virsh(t, uri, step...)
		out = append(out, strings.Join(step, " ")+"\n"+strings.ReplaceAll(o+e, dir, "DIR")+"rc="+string(rune('0'+rc)))
	}
	return out
}

// TestSecretsVirsh runs the secret commands through virsh against the QEMU
// driver, compared step by step with libvirtd 9.0 when it runs here; the
// store's files are checked (0600 in a 0700 directory, nothing of an
// ephemeral secret) and a restarted daemon still has the secrets.
func TestSecretsVirsh(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	dir := writeSecretFiles(t)
	got := runSecretScript(t, uri, dir)
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"secret-get-value " + secA + " --plain\nhunter2",
		"secret-get-value " + secB + "\n\nerror: Invalid secret: secret is private",
		"secret-define " + dir + "/dup-usage.xml\n\nerror: Failed to set attributes from DIR/dup-usage.xml\nerror: internal error: a secret with UUID " + secA + " already defined for use with /var/lib/govirt-test/a.img",
		"error: internal error: cannot change private flag on existing secret",
		"error: internal error: a secret with UUID " + secB + " is already defined for use with govirt-test client.admin",
		"error: unsupported configuration: unknown secret usage type bogus",
		"error: XML document failed to validate against schema: Unable to validate doc against /usr/share/libvirt/schemas/secret.rng\nElement secret has extra content: foo",
		"<description>no usage &amp; &lt;b&gt;</description>",
		"secret-undefine " + secC + "\n\nerror: failed to get secret '" + secC + "'\nerror: Secret not found: no secret with matching uuid '" + secC + "'",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in\n%s", want, joined)
		}
	}
	if libvirtdUp() {
		// libvirtd's secrets outlive its runs: an interrupted earlier run
		// may have left ours behind.
		clean := func() {
			for _, u := range []string{secA, secB, secC} {
				virsh(t, libvirtdURI, "secret-undefine", u)
			}
		}
		clean()
		t.Cleanup(clean)
		want := runSecretScript(t, libvirtdURI, dir)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("step %d differs\n--- govirtd\n%s\n--- libvirtd\n%s", i, got[i], want[i])
			}
		}
	}

	// The store on disk, and across a restart.
	mustVirsh(t, uri, "secret-define "+filepath.Join(dir, "a.xml"))
	mustVirsh(t, uri, "secret-set-value "+secA+" --file "+filepath.Join(dir, "val")+" --plain")
	mustVirsh(t, uri, "secret-define "+filepath.Join(dir, "b.xml"))
	mustVirsh(t, uri, "secret-set-value "+secB+" --file "+filepath.Join(dir, "val")+" --plain")
	store := filepath.Join(d.dir, "state", "secrets")
	st, err := os.Stat(store)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("store directory: %v %v", st, err)
	}
	ents, _ := os.ReadDir(store)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", e.Name(), info.Mode())
		}
	}
	if strings.Join(names, " ") != secA+".base64 "+secA+".xml" {
		t.Errorf("store holds %v (the ephemeral secret must not be written)", names)
	}
	d.crashRestart()
	out := mustVirsh(t, uri, "secret-list")
	if !strings.Contains(out, secA) || strings.Contains(out, secB) {
		t.Errorf("after a restart:\n%s", out)
	}
	if out := mustVirsh(t, uri, "secret-get-value "+secA+" --plain"); strings.TrimSpace(out) != "hunter2" {
		t.Errorf("value after a restart: %q", out)
	}
	// A read-only connection may not read values.
	if _, e, rc := virsh(t, uri, "-r", "secret-get-value", secA); rc == 0 || !strings.Contains(e, "operation forbidden") {
		t.Errorf("read-only secret-get-value: rc %d %s", rc, e)
	}
}

// TestSecretEventsPython registers secret callbacks through python-libvirt
// (all secrets, and one secret's value changes) and checks what arrives.
func TestSecretEventsPython(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	got := strings.Join(pythonStdout(t, "testdata/python/secret_events.py", d.URI("qemu")), "\n")
	want := `usage 4 govirt-ev1 0 ''
lookup 5e1e7c3a-0000-4000-8000-00000000b001
value b'abc'
all lifecycle 5e1e7c3a-0000-4000-8000-00000000b001 0 0
all lifecycle 5e1e7c3a-0000-4000-8000-00000000b001 1 0
all lifecycle 5e1e7c3a-0000-4000-8000-00000000b002 0 0
all lifecycle 5e1e7c3a-0000-4000-8000-00000000b002 1 0
all value-changed 5e1e7c3a-0000-4000-8000-00000000b001
all value-changed 5e1e7c3a-0000-4000-8000-00000000b002
one value-changed 5e1e7c3a-0000-4000-8000-00000000b001`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
