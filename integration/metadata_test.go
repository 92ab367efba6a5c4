package integration

import (
	"os"
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

// TestDomainMetadataQEMU runs the same transcript on a running QEMU guest;
// it must be libvirt's test driver's, but for the driver's function name
// in the flags error.
func TestDomainMetadataQEMU(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	defineGuestDevices(t, d, "md", "")
	mustVirsh(t, d.URI("qemu"), "start md")
	got := pythonTranscript(t, "testdata/python/metadata.py", d.URI("qemu"), "md")
	want := pythonTranscript(t, "testdata/python/metadata.py", "test:///default")
	w := strings.ReplaceAll(strings.Join(want, "\n"), "testDomainGetMetadata", "qemuDomainGetMetadata")
	if strings.Join(got, "\n") != w {
		t.Errorf("transcripts differ\n--- govirtd\n%s\n--- libvirt\n%s", strings.Join(got, "\n"), w)
	}
	// The config change is in the definition file, the live one only in
	// the running guest.
	if out := mustVirsh(t, d.URI("qemu"), "desc md --config"); strings.TrimSpace(out) != "config desc" {
		t.Errorf("desc --config: %q", out)
	}
	if out := mustVirsh(t, d.URI("qemu"), "desc md --live"); strings.TrimSpace(out) != "live desc" {
		t.Errorf("desc --live: %q", out)
	}
}

// TestDomainHostCallsTestDriver compares inject-nmi, control info, disk
// errors, the guest clock, set-user-password and send-key on govirtd's
// test driver with libvirt 9.0's test driver.
func TestDomainHostCallsTestDriver(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	got := pythonTranscript(t, "testdata/python/hostcalls.py", d.URI("test"))
	want := pythonTranscript(t, "testdata/python/hostcalls.py", "test:///default")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcripts differ\n--- govirtd\n%s\n--- libvirt\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
