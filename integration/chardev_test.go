package integration

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQemuChardevHostFiles: chardev files, their logs and listening unix
// sockets are opened by govirtd and inherited by QEMU (fd sets and fd=N,
// as libvirt does), so the guest's serial output lands in a file QEMU
// never opened by name, a bound socket accepts connections, and
// <qemu:commandline> arguments and environment reach QEMU and taint the
// domain as libvirt's custom-argv; <memballoon><stats period> is applied.
func TestQemuChardevHostFiles(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	serialFile := filepath.Join(dir, "serial0.out")
	logFile := filepath.Join(dir, "serial0.log")
	sock := filepath.Join(dir, "serial1.sock")
	if err := os.WriteFile(serialFile, []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	xml := testGuestXML(t, "chr1", `<qemu:commandline>
    <qemu:arg value='-msg'/>
    <qemu:arg value='guest-name=on'/>
    <qemu:env name='GOVIRT_NS_TEST' value='chr1'/>
  </qemu:commandline>`, `    <serial type='file'>
      <source path='`+serialFile+`' append='on'/>
      <log file='`+logFile+`' append='off'/>
      <target port='0'/>
    </serial>
    <serial type='unix'>
      <source mode='bind' path='`+sock+`'/>
      <target port='1'/>
    </serial>
    <memballoon model='virtio'>
      <stats period='7'/>
    </memballoon>
`)
	xml = strings.Replace(xml, "<domain ", "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' ", 1)
	path := filepath.Join(dir, "chr1.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start chr1")

	pid := qemuPidOf(t, "chr1")
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	args := strings.Split(string(cmdline), "\x00")
	for _, want := range []string{"file,id=charserial0,path=/dev/fdset/0,append=on,logfile=/dev/fdset/1,logappend=on",
		"socket,id=charserial1,fd=6,server=on,wait=off", "guest-name=on"} {
		found := false
		for _, a := range args {
			found = found || a == want
		}
		if !found {
			t.Errorf("QEMU's command line lacks %q:\n%q", want, args)
		}
	}
	for _, a := range args {
		if strings.Contains(a, serialFile) || strings.Contains(a, sock) {
			t.Errorf("QEMU was given a chardev path to open itself: %q", a)
		}
	}
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if !strings.Contains("\x00"+string(env)+"\x00", "\x00GOVIRT_NS_TEST=chr1\x00") {
		t.Errorf("QEMU's environment lacks <qemu:env>: %q", env)
	}
	if info := mustVirsh(t, uri, "dominfo chr1"); !strings.Contains(info, "tainted: custom configuration parameters specified") {
		t.Errorf("dominfo lacks the custom-argv taint:\n%s", info)
	}

	// The guest writes to ttyS0: the output is appended to the file and
	// copied to the log.
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, _ := os.ReadFile(serialFile)
		lg, _ := os.ReadFile(logFile)
		if strings.HasPrefix(string(out), "kept\n") && len(out) > len("kept\n") && len(lg) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial output did not reach the file (append) and its log:\nfile %q\nlog %q\n%s", out, lg, d.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatalf("the bound serial socket does not accept: %v", err)
	}
	c.Close()
	// The balloon's stats period is set over QMP once QEMU is up.
	out := mustVirsh(t, uri, `qemu-monitor-command chr1 '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats-polling-interval"}}'`)
	if !strings.Contains(out, `"return":7`) {
		t.Errorf("balloon stats period: %s", out)
	}
	mustVirsh(t, uri, "destroy chr1")
}

// qemuPidOf finds the QEMU process of a guest by its -name argument.
func qemuPidOf(t *testing.T, name string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(b), "\x00guest="+name+",debug-threads=on\x00") {
			return pid
		}
	}
	t.Fatalf("no QEMU runs guest %s", name)
	return 0
}
