package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDomxmlToNative prints, with virsh domxml-to-native, the command
// line a start of the definition would run: the environment then the
// arguments, shell-quoted, on one line, as libvirtd prints it. The
// definition carries <qemu:commandline>, whose argument and environment
// show up in it; started, the guest is tainted custom-argv.
func TestDomxmlToNative(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	xml := testGuestXML(t, "native", "", "    <graphics type='vnc' port='-1'/>\n")
	xml = strings.Replace(xml, "<domain type=", "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' type=", 1)
	xml = strings.Replace(xml, "</domain>", `  <qemu:commandline>
    <qemu:arg value='-fw_cfg'/>
    <qemu:arg value='name=opt/govirt/test,string=a b'/>
    <qemu:env name='GOVIRT_TEST_ENV' value='x y'/>
  </qemu:commandline>
</domain>`, 1)
	path := filepath.Join(t.TempDir(), "native.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustVirsh(t, d.URI("qemu"), "domxml-to-native qemu-argv "+path)
	line := strings.TrimRight(out, "\n")
	if strings.Contains(line, "\n") {
		t.Fatalf("not one line:\n%s", out)
	}
	for _, want := range []string{
		"LC_ALL=C PATH=", " GOVIRT_TEST_ENV='x y' /usr/bin/qemu-system-x86_64 -name guest=native,debug-threads=on -S ",
		" -vnc 127.0.0.1:0,audiodev=audio1 ", // libvirt's placeholder port for an autoport display
		` -object '{"qom-type":"memory-backend-ram",`, " -fw_cfg 'name=opt/govirt/test,string=a b' ",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("domxml-to-native output lacks %q:\n%s", want, line)
		}
	}
	_, errOut, rc := virsh(t, d.URI("qemu"), "domxml-to-native", "qemu-foo", path)
	if rc == 0 || !strings.Contains(errOut, "invalid argument: unsupported config type qemu-foo") {
		t.Errorf("unknown format: rc=%d %s", rc, errOut)
	}
	// The same definition starts, with the custom argument, and libvirt's
	// taint.
	mustVirsh(t, d.URI("qemu"), "create "+path)
	info := mustVirsh(t, d.URI("qemu"), "dominfo native")
	if !strings.Contains(info, "tainted: custom configuration parameters specified") {
		t.Errorf("dominfo shows no custom-argv taint:\n%s", info)
	}
	if st := domState(t, d, "native"); st != "running (booted)" {
		t.Errorf("state %q: QEMU refused the custom argument?", st)
	}
}

// TestDommemstatPeriod sets the balloon's statistics period with virsh
// dommemstat --period, live (QEMU's guest-stats-polling-interval changes)
// and in the persistent definition (applied at the next start).
func TestDommemstatPeriod(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	xml := testGuestXML(t, "memper", "", "    <memballoon model='virtio'/>\n")
	path := filepath.Join(t.TempDir(), "memper.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start memper")
	interval := func() string {
		out, errOut, _ := virsh(t, uri, "qemu-monitor-command", "memper",
			`{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats-polling-interval"}}`)
		return strings.TrimSpace(out + errOut)
	}
	mustVirsh(t, uri, "dommemstat memper --period 2 --live")
	if got := interval(); !strings.Contains(got, `"return":2`) {
		t.Errorf("after --live: %s", got)
	}
	if x := guestXMLOf(t, d, "memper"); !strings.Contains(x, "<stats period='2'/>") {
		t.Errorf("live XML lacks the period:\n%s", x)
	}
	if x := guestXMLOf(t, d, "memper", "--inactive"); strings.Contains(x, "<stats") {
		t.Errorf("--live changed the persistent definition:\n%s", x)
	}
	mustVirsh(t, uri, "dommemstat memper --period 5 --config")
	if x := guestXMLOf(t, d, "memper", "--inactive"); !strings.Contains(x, "<stats period='5'/>") {
		t.Errorf("persistent XML lacks the period:\n%s", x)
	}
	mustVirsh(t, uri, "destroy memper")
	mustVirsh(t, uri, "start memper")
	if got := interval(); !strings.Contains(got, `"return":5`) {
		t.Errorf("the persistent period was not applied at start: %s", got)
	}
	if _, _, rc := virsh(t, uri, "dommemstat", "memper", "--period", "-1"); rc == 0 {
		t.Errorf("negative period accepted")
	}
	// A guest without a balloon: libvirt's error.
	xml = testGuestXML(t, "noballoon", "", "    <memballoon model='none'/>\n")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "create "+path)
	_, errOut, rc := virsh(t, uri, "dommemstat", "noballoon", "--period", "2", "--live")
	if rc == 0 || !strings.Contains(errOut, "No memory balloon device configured, can not set the collection period") {
		t.Errorf("no balloon: rc=%d %s", rc, errOut)
	}
}
