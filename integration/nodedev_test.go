package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeDevicesTestDriver compares govirtd's test driver node devices
// with libvirt 9.0's test driver through python-libvirt: the default
// devices, listing by capability, XML, parents, the mocked vHBA
// create/destroy with its parent lookups and errors, and the lifecycle
// events with a device filter.
func TestNodeDevicesTestDriver(t *testing.T) {
	comparePythonTestDriver(t, "testdata/python/nodedevs.py")
}

// TestNodeDevicesNodeFile loads node devices from a test:///PATH node file
// (inline and file= devices, PCI and net capabilities kept as written) on
// both sides.
func TestNodeDevicesNodeFile(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	file, err := filepath.Abs("testdata/nodefile/nodedevs.xml")
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t)
	uri := strings.Replace(d.URI("test"), "/default", file, 1)
	got := pythonTranscript(t, "testdata/python/nodedevs_file.py", uri)
	want := pythonTranscript(t, "testdata/python/nodedevs_file.py", "test://"+file)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("--- govirtd\n%s\n--- libvirt\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
