package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// virtiofsdPath is the host's virtiofsd (Debian: in qemu-system-common).
func virtiofsdPath() string {
	for _, p := range []string{"/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// procsWithArg lists the pids whose command line contains arg.
func procsWithArg(arg string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cl), arg) {
			out = append(out, pid)
		}
	}
	return out
}

// TestQEMUVirtioFS starts a guest sharing a host directory over virtiofs
// through virsh: govirtd starts virtiofsd on a socket in the guest's
// directory before QEMU (which only comes up once vhost-user-fs-pci has
// talked to it), records alias and address in the live XML, and stops
// virtiofsd when the guest is destroyed.
func TestQEMUVirtioFS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("virtiofsd needs root")
	}
	if virtiofsdPath() == "" {
		t.Skip("virtiofsd not installed (Debian: qemu-system-common)")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	share := t.TempDir()
	if err := os.WriteFile(filepath.Join(share, "hello"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	consoleSock := filepath.Join(d.dir, "fs1.console")
	xml := testGuestXML(t, "fs1", `<memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>`, fmt.Sprintf(`    <filesystem type='mount' accessmode='passthrough'>
      <driver type='virtiofs' queue='1024'/>
      <binary xattr='on'>
        <cache mode='always'/>
      </binary>
      <source dir='%s'/>
      <target dir='share0'/>
    </filesystem>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
`, share, consoleSock))
	mustVirsh(t, uri, "define "+writeTemp(t, "fs1.xml", xml))
	mustVirsh(t, uri, "start fs1")
	con := console(t, consoleSock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, d.Log())
	}
	waitState(t, d, "fs1", "running (booted)", 5*time.Second)

	// virtiofsd forks into its sandbox: a parent and a child.
	pids := procsWithArg("source=" + share)
	if len(pids) == 0 {
		t.Fatalf("no virtiofsd serving %s", share)
	}
	cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pids[0]))
	args := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	want := []string{"--fd=3", "-o", "source=" + share + ",cache=always,xattr"}
	if len(args) != 4 || strings.Join(args[1:], " ") != strings.Join(want, " ") {
		t.Errorf("virtiofsd argv %q, want [binary %s]", args, strings.Join(want, " "))
	}
	// The virtiofsd the daemon recorded is in QEMU's emulator cgroup
	// (libvirt's qemuVirtioFSSetupCgroup).
	if os.Geteuid() == 0 {
		rec, err := os.ReadFile(filepath.Join(d.dir, "run", "qemu", "domain", "fs1.d", "fs0-fs.pid"))
		if f := strings.Fields(string(rec)); err != nil || len(f) != 2 {
			t.Errorf("virtiofsd record: %v %q", err, rec)
		} else if pid, _ := strconv.Atoi(f[0]); pid > 0 {
			wantInGuestCgroup(t, d, "fs1", pid, "virtiofsd")
		}
	}
	// QEMU is virtiofsd's client on the socket libvirt names.
	live := mustVirsh(t, uri, "dumpxml fs1")
	for _, w := range []string{"<alias name='fs0'/>", "<target dir='share0'/>", "<address type='pci'"} {
		if !strings.Contains(live, w) {
			t.Errorf("live XML lacks %s:\n%s", w, live)
		}
	}
	qemuPids := procsWithArg("vhost-user-fs-pci")
	if len(qemuPids) != 1 {
		t.Fatalf("QEMU with vhost-user-fs-pci: %v", qemuPids)
	}
	qcl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", qemuPids[0]))
	if !strings.Contains(string(qcl), "-fs.sock") || !strings.Contains(string(qcl), `"tag":"share0"`) {
		t.Errorf("QEMU command line lacks the virtiofs chardev/tag: %q", qcl)
	}

	mustVirsh(t, uri, "destroy fs1")
	deadline := time.Now().Add(15 * time.Second)
	for len(procsWithArg("source="+share)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("virtiofsd still running after destroy")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A missing export is refused before QEMU starts, with libvirt's error.
	os.RemoveAll(share)
	_, errOut, rc := virsh(t, uri, "start fs1")
	if rc == 0 || !strings.Contains(errOut, "the virtiofs export directory '"+share+"' does not exist") {
		t.Errorf("start without the export: rc=%d %s", rc, errOut)
	}
	if p := procsWithArg("source=" + share); len(p) > 0 {
		t.Errorf("virtiofsd left running: %v", p)
	}
}
