package qemu

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestAdoptChecksStartTime: a reconnected process is taken only with the
// start time recorded for it (a reused pid is another process), its exit
// is seen through the pidfd, and it is never signalled after it.
func TestAdoptChecksStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	start, err := procStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adopt(pid, start+1); err == nil {
		t.Fatal("adopted a process with another start time")
	}
	p, err := adopt(pid, start)
	if err != nil {
		t.Fatal(err)
	}
	if p.pidfd == nil {
		t.Log("no pidfd_open: the start-time fallback is in use")
	}
	if p.wait(100 * time.Millisecond) {
		t.Fatal("live process seen as exited")
	}
	p.signal(syscall.SIGKILL)
	<-exited
	if !p.wait(10 * time.Second) {
		t.Fatal("exit not seen")
	}
	p.signal(syscall.SIGKILL) // a no-op now: the pid may be anyone's
	if _, err := adopt(pid, start); err == nil {
		t.Fatal("adopted a gone process")
	}
}
