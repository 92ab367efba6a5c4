package qemu

import (
	"govirt/qmp"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// A daemon killed between spawning QEMU and recording its pid must still
// find that QEMU on restart: it holds the monitor socket the daemon bound,
// though its command line only says fd=3.
func TestPidsUsingFindsInheritedMonitorSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	f, err := qmp.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "30")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	if got := pidsUsing(path); !slices.Equal(got, []int{cmd.Process.Pid}) {
		t.Fatalf("pidsUsing = %v, want [%d]", got, cmd.Process.Pid)
	}
	// The socket accepts connections queued before anyone calls accept,
	// which is what lets the daemon connect right after the spawn.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("connect to the inherited socket: %v", err)
	}
	c.Close()
}
