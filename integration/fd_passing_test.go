package integration

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCallWithFDsKeepsConnection sends calls carrying descriptors that
// the test driver does not implement (virsh dom-fd-associate): the client
// gets libvirtd's answer and its connection stays usable for the next
// command of the same virsh session.
func TestCallWithFDsKeepsConnection(t *testing.T) {
	d := startDaemon(t)
	out, errOut, _ := virsh(t, d.URI("test"), "dom-fd-associate test --name x --pass-fds 0; dom-fd-associate test --name y --pass-fds 0,1,2; domstate test")
	if !strings.Contains(errOut, "this function is not supported by the connection driver: virDomainFDAssociate") {
		t.Errorf("dom-fd-associate: %s", errOut)
	}
	if strings.Contains(errOut, "Disconnected") || strings.Contains(errOut, "end of file") {
		t.Errorf("the connection was dropped:\n%s", errOut)
	}
	if !strings.Contains(out, "running") {
		t.Errorf("domstate after the refused calls: %q (stderr %s)", out, errOut)
	}
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestCreateWithFilesTestDriver runs createXMLWithFiles and
// createWithFiles with real descriptors through govirtd's test driver and
// compares every answer with libvirt 9.0's test driver (in the client
// library); govirtd must close the descriptors once the call is done.
func TestCreateWithFilesTestDriver(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	// A first session opens what govirtd keeps for later ones; the
	// second one's descriptors are counted.
	pythonTranscript(t, "testdata/python/with_files.py", d.URI("test"), "testdata/files/dom.xml")
	before := openFDs(t, d.cmd.Process.Pid)
	got := pythonTranscript(t, "testdata/python/with_files.py", d.URI("test"), "testdata/files/dom.xml")
	want := pythonTranscript(t, "testdata/python/with_files.py", "test:///default", "testdata/files/dom.xml")
	g := uuidRe.ReplaceAllString(strings.Join(got, "\n"), "<UUID>")
	w := uuidRe.ReplaceAllString(strings.Join(want, "\n"), "<UUID>")
	if g != w {
		t.Errorf("govirtd:\n%s\nlibvirt's test driver:\n%s", g, w)
	}
	// The client is gone; its descriptors must be too.
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := openFDs(t, d.cmd.Process.Pid)
		if after <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("govirtd holds %d descriptors, %d before the calls", after, before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
