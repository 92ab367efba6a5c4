package integration

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// legacyKnown are the transcript lines where govirtd's test driver
// differs from libvirt's on purpose: secrets list empty (issue 3) where
// libvirt's test driver has no secret driver. Network filters answer
// "not supported" there, as libvirt's.
var legacyKnown = map[string]string{
	"secrets.num": "secrets.num: 0",
	"secrets":     "secrets: []",
}

func pythonTranscript(t *testing.T, script string, argv ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{script}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, argv, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestLegacyListsTestDriver runs the older list calls and lookups through
// python-libvirt against govirtd's test driver and against libvirt 9.0's
// own test driver (test:///default, in the client library), and compares.
func TestLegacyListsTestDriver(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	got := pythonTranscript(t, "testdata/python/legacy_lists.py", d.URI("test"))
	want := pythonTranscript(t, "testdata/python/legacy_lists.py", "test:///default")
	if len(got) != len(want) {
		t.Fatalf("transcripts differ in length\n--- govirtd\n%s\n--- libvirt\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range got {
		key, _, _ := strings.Cut(want[i], ":")
		if k, ok := legacyKnown[key]; ok {
			if got[i] != k {
				t.Errorf("line %d: got %q, want govirt's documented %q", i, got[i], k)
			}
			continue
		}
		if got[i] != want[i] {
			t.Errorf("line %d: govirtd %q, libvirt %q", i, got[i], want[i])
		}
	}
}

// TestLegacyListsQEMU runs the older list calls and the target path lookup
// on the QEMU connection through python-libvirt.
func TestLegacyListsQEMU(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	d := startDaemon(t)
	out := pythonTranscript(t, "testdata/python/legacy_lists_qemu.py", d.URI("qemu"), t.TempDir())
	if out[len(out)-1] != "ok" {
		t.Fatalf("%s", strings.Join(out, "\n"))
	}
}
