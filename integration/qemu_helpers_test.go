package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// guestXML is a minimal guest booting the test kernel, with its serial
// console on a unix socket the test drives.
func guestXML(t *testing.T, name, consoleSock, extra string) string {
	t.Helper()
	return testGuestXML(t, name, extra, fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <panic model='isa'/>
    <graphics type='vnc' listen='127.0.0.1' autoport='yes'/>
`, consoleSock))
}

// testGuestXML is the test guest (kernel, initrd, KVM where it works)
// with extra elements before <devices> and the given devices.
func testGuestXML(t *testing.T, name, extra, devices string) string {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	kernel, initrd := testguest.Ensure(t)
	typ := "qemu"
	if testguest.KVMUsable() {
		typ = "kvm"
	}
	return fmt.Sprintf(`<domain type='%s'>
  <name>%s</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <features><acpi/></features>
  %s
  <devices>
%s  </devices>
</domain>
`, typ, name, kernel, initrd, testguest.Cmdline, extra, devices)
}

// defineGuest writes the XML to a file and defines it through virsh.
func defineGuest(t *testing.T, d *daemon, name, extra string) (consoleSock string) {
	t.Helper()
	dir := t.TempDir()
	consoleSock = filepath.Join(d.dir, name+".console")
	path := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(path, []byte(guestXML(t, name, consoleSock, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
	return consoleSock
}

func mustVirsh(t *testing.T, uri, cmd string) string {
	t.Helper()
	out, errOut, rc := virsh(t, uri, cmd)
	if rc != 0 {
		t.Fatalf("virsh %s: rc=%d\n%s%s", cmd, rc, out, errOut)
	}
	return out
}

// console connects to a guest's serial socket.
func console(t *testing.T, sock string) *testguest.Console {
	t.Helper()
	var c net.Conn
	var err error
	for i := 0; i < 200; i++ {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("console %s: %v", sock, err)
	}
	t.Cleanup(func() { c.Close() })
	return testguest.NewConsole(c, c)
}

// bootTimeout allows for TCG, which is much slower than KVM.
func bootTimeout() time.Duration {
	if testguest.KVMUsable() {
		return 30 * time.Second
	}
	return 120 * time.Second
}

// waitState polls domstate --reason until it prints want.
func waitState(t *testing.T, d *daemon, name, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		out, _, _ := virsh(t, d.URI("qemu"), "domstate --reason "+name)
		last = strings.TrimSpace(out)
		if last == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("domain %s: state %q, want %q\n%s", name, last, want, d.Log())
}

// killGuests makes sure no QEMU of this daemon outlives the test.
func killGuests(d *daemon) {
	out, _ := exec.Command("pgrep", "qemu-system").Output()
	for _, pid := range strings.Fields(string(out)) {
		// A guest's QEMU writes its log under the daemon's directory; its
		// command line need not name it (the monitor is passed as fd=3).
		logf, _ := os.Readlink("/proc/" + pid + "/fd/2")
		if strings.HasPrefix(logf, d.dir+"/") {
			exec.Command("kill", "-9", pid).Run()
		}
	}
}
