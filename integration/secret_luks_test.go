package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govirt/testguest"
)

// TestLUKSVolumeGuest: a LUKS-encrypted qcow2 volume created with
// vol-create from a volume secret (qemu-img gets the passphrase in a file
// removed afterwards), and an encrypted qcow2 attached to a guest (TCG
// test guest) that writes to it; after a restart of the guest the data
// reads back. The passphrase reaches QEMU only encrypted with the guest's
// master key (never in /proc/PID/cmdline).
//
// The guest's image is made by qemu-img with a short LUKS iteration
// time: one vol-create makes (qemu-img's default) takes two seconds of
// CPU to open, which on a loaded two-core test host can exceed the 30 s
// QEMU has to answer its monitor.
func TestLUKSVolumeGuest(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	const passphrase = "govirt-luks-passphrase-7f3a"
	const secUUID = "5e1e7c3a-0000-4000-8000-00000000c001"
	pool := filepath.Join(dir, "pool")
	vol := filepath.Join(pool, "enc.qcow2")
	files := map[string]string{
		"secret.xml": `<secret ephemeral='no' private='yes'><uuid>` + secUUID + `</uuid>
  <usage type='volume'><volume>` + vol + `</volume></usage></secret>`,
		"pass":     passphrase,
		"pool.xml": `<pool type='dir'><name>encpool</name><target><path>` + pool + `</path></target></pool>`,
		"vol.xml": `<volume><name>enc.qcow2</name><capacity unit='MiB'>8</capacity>
  <target><format type='qcow2'/>
    <encryption format='luks'><secret type='passphrase' uuid='` + secUUID + `'/></encryption>
  </target></volume>`,
		"vol-nosecret.xml": `<volume><name>bad.qcow2</name><capacity unit='MiB'>8</capacity>
  <target><format type='qcow2'/><encryption format='luks'/></target></volume>`,
		"vol-qcow.xml": `<volume><name>bad.qcow2</name><capacity unit='MiB'>8</capacity>
  <target><format type='qcow2'/><encryption format='qcow'><secret type='passphrase' uuid='` + secUUID + `'/></encryption></target></volume>`,
		"vol-missing.xml": `<volume><name>bad.qcow2</name><capacity unit='MiB'>8</capacity>
  <target><format type='qcow2'/><encryption format='luks'><secret type='passphrase' uuid='5e1e7c3a-0000-4000-8000-0000000000ff'/></encryption></target></volume>`,
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustVirsh(t, uri, "secret-define "+filepath.Join(dir, "secret.xml"))
	mustVirsh(t, uri, "secret-set-value "+secUUID+" --file "+filepath.Join(dir, "pass")+" --plain")
	mustVirsh(t, uri, "pool-define "+filepath.Join(dir, "pool.xml"))
	mustVirsh(t, uri, "pool-build encpool")
	mustVirsh(t, uri, "pool-start encpool")
	for f, want := range map[string]string{
		"vol-nosecret.xml": "error: invalid argument: A single <secret type='passphrase'...> element is expected in encryption description",
		"vol-qcow.xml":     "error: unsupported configuration: creation of qcow2 encrypted image is not supported",
		"vol-missing.xml":  "error: Secret not found: no secret with matching uuid '5e1e7c3a-0000-4000-8000-0000000000ff'",
	} {
		if _, e, rc := virsh(t, uri, "vol-create", "encpool", filepath.Join(dir, f)); rc == 0 || !strings.Contains(e, want) {
			t.Errorf("vol-create %s: rc %d, %s", f, rc, e)
		}
	}
	mustVirsh(t, uri, "vol-create encpool "+filepath.Join(dir, "vol.xml"))
	info, err := exec.Command("qemu-img", "info", vol).CombinedOutput()
	if err != nil || !strings.Contains(string(info), "encrypted: yes") || !strings.Contains(string(info), "format: luks") {
		t.Fatalf("qemu-img info: %v\n%s", err, info)
	}
	if left, _ := filepath.Glob(filepath.Join(d.dir, "run", "storage", "*secret*")); len(left) > 0 {
		t.Errorf("secret files left: %v", left)
	}

	fast := filepath.Join(pool, "fast.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=s0,file="+filepath.Join(dir, "pass"),
		"-o", "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10", fast, "8M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	mustVirsh(t, uri, "pool-refresh encpool")

	sock := filepath.Join(d.dir, "luks.console")
	xmlPath := filepath.Join(dir, "luks.xml")
	if err := os.WriteFile(xmlPath, []byte(testGuestXML(t, "luks", "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
`, sock))), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+xmlPath)
	disk := fmt.Sprintf(`<disk type='file' device='disk'>
  <driver name='qemu' type='qcow2'/>
  <source file='%s'>
    <encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption>
  </source>
  <target dev='vda' bus='virtio'/>
</disk>`, fast, secUUID)
	diskPath := filepath.Join(dir, "disk.xml")
	if err := os.WriteFile(diskPath, []byte(disk), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "attach-device luks "+diskPath+" --config")

	con := bootLUKS(t, d, sock)
	pid := guestPID(t, d, "luks")
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	cl := strings.ReplaceAll(string(cmdline), "\x00", " ")
	if strings.Contains(cl, passphrase) {
		t.Fatalf("passphrase in QEMU's command line:\n%s", cl)
	}
	for _, want := range []string{`"id":"masterKey0","format":"raw","file":`, `"keyid":"masterKey0"`, `-encryption-secret0`, `"encrypt":{"format":"luks","key-secret":`} {
		if !strings.Contains(cl, want) {
			t.Errorf("command line lacks %s:\n%s", want, cl)
		}
	}
	want := guestWrite(t, con, "/dev/vda", 7, 1024)
	mustVirsh(t, uri, "destroy luks")
	if raw, _ := os.ReadFile(vol); strings.Contains(string(raw), passphrase) {
		t.Errorf("passphrase stored in the image")
	}
	con = bootLUKS(t, d, sock)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("after a restart the disk reads %s, written %s", got, want)
	}
	mustVirsh(t, uri, "destroy luks")
	mustVirsh(t, uri, "undefine luks")
}

// bootLUKS starts the guest and waits for its shell, twice the usual
// time: QEMU derives the LUKS key before the guest runs.
func bootLUKS(t *testing.T, d *daemon, sock string) *testguest.Console {
	t.Helper()
	mustVirsh(t, d.URI("qemu"), "start luks")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 2*bootTimeout()); err != nil {
		t.Fatalf("the guest did not boot: %v\nconsole:\n%s\n%s", err, con.Output(), d.Log())
	}
	return con
}
