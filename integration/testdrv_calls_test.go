package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestDriverCallsPython makes the test driver's calls virsh cannot
// make as a client can (security label list, launch security without
// flags, free pages, iothread parameters and the iothread stats group,
// core dump formats and flag checks, save-image flags) through
// python-libvirt and compares the transcript with libvirtd 9.0's,
// recorded with -record.
func TestTestDriverCallsPython(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	nodeFile, _ := filepath.Abs("testdata/nodefile/nodedevs.xml")
	golden := "testdata/python/testdrv_calls.libvirtd.txt"
	run := func(sock string) string {
		tmp := t.TempDir()
		lines := pythonTranscript(t, "testdata/python/testdrv_calls.py",
			"test+unix:///default?socket="+sock, "test+unix://"+nodeFile+"?socket="+sock, tmp)
		return strings.Join(lines, "\n") + "\n"
	}
	if *record {
		if err := os.WriteFile(golden, []byte(run(*libvirtdSock)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("no transcript (record with -record): %v", err)
	}
	d := startDaemon(t)
	if got := run(d.Socket); got != string(want) {
		t.Errorf("govirtd:\n%s\nlibvirtd 9.0:\n%s", got, want)
	}
}
