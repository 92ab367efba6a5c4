package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// libvirtSource finds libvirt 9.0.0's source tree (for its shell tests):
// $GOVIRT_LIBVIRT_SRC, else /work/lvsrc/libvirt-9.0.0 or ../../lvsrc
// beside the worktree.
func libvirtSource(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{os.Getenv("GOVIRT_LIBVIRT_SRC"), "/work/lvsrc/libvirt-9.0.0", "../../lvsrc/libvirt-9.0.0"} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "tests", "test-lib.sh")); err == nil {
			abs, _ := filepath.Abs(dir)
			return abs
		}
	}
	t.Skip("libvirt 9.0.0 source tree not found (set GOVIRT_LIBVIRT_SRC)")
	return ""
}

// virshWrapper is a tools/virsh for libvirt's shell tests: it runs the
// system virsh with test:///default replaced by GOVIRT_TEST_URI, so the
// script talks to govirtd.
const virshWrapper = `#!/bin/sh
n=$#
for a in "$@"; do
  if [ "$a" = "test:///default" ]; then a="$GOVIRT_TEST_URI"; fi
  set -- "$@" "$a"
done
shift $n
exec virsh "$@"
`

// runLibvirtShellTest runs one of libvirt's tests/virsh-* scripts with its
// virsh pointed at govirtd's test driver; the script compares virsh's
// output with the output libvirt expects and exits non-zero on a
// difference (printing the diff).
func runLibvirtShellTest(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	src := libvirtSource(t)
	d := startDaemon(t)
	build := t.TempDir()
	if err := os.MkdirAll(filepath.Join(build, "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(build, "tools", "virsh"), []byte(virshWrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", filepath.Join(src, "tests", name))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "VIR_TEST_EXPENSIVE=1", "abs_top_builddir="+build,
		"abs_srcdir="+filepath.Join(src, "tests"), "GOVIRT_TEST_URI="+d.URI("test"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("libvirt's tests/%s through govirtd: %v\n%s", name, err, out)
	}
	// The script prints nothing when all matched; a connection failure
	// would have shown up as a difference.
	if strings.Contains(string(out), "failed to connect") {
		t.Fatalf("%s", out)
	}
}

// TestVirshCheckpointScript is libvirt's own tests/virsh-checkpoint run
// against govirtd: checkpoint create (and the duplicate error), the
// snapshot refusal, list --tree/--roots/--leaves/--from/--topological,
// dumpxml, delete with --children-only and --children, and redefinition
// in and out of topological order.
func TestVirshCheckpointScript(t *testing.T) { runLibvirtShellTest(t, "virsh-checkpoint") }

// TestCheckpointsTestDriver runs the checkpoint calls through
// python-libvirt against govirtd and against libvirt 9.0's test driver
// (in the client library) and compares the transcripts.
func TestCheckpointsTestDriver(t *testing.T) {
	comparePythonTestDriver(t, "testdata/python/checkpoints.py")
}

// comparePythonTestDriver runs script against govirtd's test driver and
// libvirt's own test:///default and wants identical transcripts.
func comparePythonTestDriver(t *testing.T, script string, extra ...string) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	got := pythonStdout(t, script, append([]string{d.URI("test")}, extra...)...)
	want := pythonStdout(t, script, append([]string{"test:///default"}, extra...)...)
	n := len(got)
	if len(want) > n {
		n = len(want)
	}
	for i := 0; i < n; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("line %d:\ngovirtd %q\nlibvirt %q", i+1, g, w)
		}
	}
}

// pythonStdout is pythonTranscript without stderr: libvirt's own test
// driver logs GLib warnings there for some calls (a MAC lookup meeting an
// interface without a MAC).
func pythonStdout(t *testing.T, script string, argv ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{script}, argv...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s%s", script, argv, err, out, stderr.Bytes())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
