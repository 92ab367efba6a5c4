package integration

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A client that disconnects while its call waits for a guest's job stops
// waiting: the call is dropped, it does not run later on behalf of nobody.
// Here setmem waits behind a suspend that QEMU (stopped) cannot answer; its
// virsh is killed; once QEMU continues and the suspend ends, the memory
// must be what it was.
func TestQEMUJobsWaiterDisconnect(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuest(t, d, "wd", "")
	mustVirsh(t, uri, "start wd")
	waitState(t, d, "wd", "running (booted)", 30*time.Second)
	before := liveCurrentMemory(t, uri, "wd")
	pid := guestPID(t, d, "wd")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	suspended := make(chan int, 1)
	go func() {
		_, _, rc := virsh(t, uri, "suspend wd")
		suspended <- rc
	}()
	time.Sleep(time.Second) // the suspend holds the job, waiting on QEMU

	waiter := exec.Command("virsh", "-c", uri, "setmem", "wd", "65536", "--live")
	waiter.Env = append(os.Environ(), "LC_ALL=C")
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // setmem now waits for the job
	waiter.Process.Kill()
	waiter.Wait()

	syscall.Kill(pid, syscall.SIGCONT)
	if rc := <-suspended; rc != 0 {
		t.Fatalf("suspend failed after QEMU continued\n%s", d.Log())
	}
	waitState(t, d, "wd", "paused (user)", 10*time.Second)
	time.Sleep(2 * time.Second) // time for a wrongly kept waiter to run
	if after := liveCurrentMemory(t, uri, "wd"); after != before {
		t.Fatalf("the disconnected client's setmem ran: currentMemory %s, was %s", after, before)
	}
	mustVirsh(t, uri, "destroy wd")
}

func liveCurrentMemory(t *testing.T, uri, name string) string {
	t.Helper()
	out := mustVirsh(t, uri, "dumpxml "+name)
	i := strings.Index(out, "<currentMemory")
	if i < 0 {
		t.Fatalf("no currentMemory in\n%s", out)
	}
	return out[i : i+strings.Index(out[i:], "</currentMemory>")]
}
