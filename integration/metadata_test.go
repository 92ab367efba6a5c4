package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainMetadataTestDriver compares virDomainGetMetadata and
// virDomainSetMetadata through python-libvirt on govirtd's test driver
// with libvirt 9.0's own test driver (in the client library).
func TestDomainMetadataTestDriver(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	got := pythonTranscript(t, "testdata/python/metadata.py", d.URI("test"))
	want := pythonTranscript(t, "testdata/python/metadata.py", "test:///default")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcripts differ\n--- govirtd\n%s\n--- libvirt\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
