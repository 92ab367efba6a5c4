package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemonQEMUs lists the live QEMU processes of d: those whose log (stderr)
// is a file under the test daemon's own directory. No process is matched
// by name, so other tests' and other users' QEMUs are never counted.
func daemonQEMUs(d *daemon) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == d.cmd.Process.Pid {
			continue
		}
		logf, err := os.Readlink("/proc/" + e.Name() + "/fd/2")
		if err != nil || !strings.HasPrefix(logf, d.dir+"/") || !processAlive(pid) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// waitNoQEMU waits (generously: the machine is loaded) until d has no
// QEMU left.
func waitNoQEMU(t *testing.T, d *daemon, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pids := daemonQEMUs(d)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("QEMU processes nobody owns: %v\n%s", pids, d.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestQEMUJobsCreateDestroyRace races createXML and destroy of one
// transient guest from eight python-libvirt threads; afterwards every QEMU
// of the daemon belongs to a listed guest, and destroying the listed ones
// leaves none. The XML names its UUID, as generated XML does: two
// creates of it once both registered their guest, the second replacing
// the first in the registry while its QEMU ran on, unlisted. The daemon is
// built without the race detector, whose slowdown closes that window.
func TestQEMUJobsCreateDestroyRace(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemonNoRace(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	xmlPath := filepath.Join(t.TempDir(), "race.xml")
	if err := os.WriteFile(xmlPath, []byte(testGuestXML(t, "race", "<uuid>0b6e3f2a-6d1c-4f5e-9a7b-2c3d4e5f6a7b</uuid>", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/python/create_destroy_race.py", uri, xmlPath, "15").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("race script: %v\n%s", err, out)
	}
	// Whatever is listed running may own one QEMU; nothing else may run.
	list := strings.Fields(mustVirsh(t, uri, "list --name"))
	if len(list) > 1 {
		t.Fatalf("listed: %v", list)
	}
	// Give a QEMU that is still exiting time to go, then compare.
	deadline := time.Now().Add(30 * time.Second)
	for len(daemonQEMUs(d)) > len(list) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if pids := daemonQEMUs(d); len(pids) > len(list) {
		t.Fatalf("%d QEMU processes %v, %d listed guests %v\n%s", len(pids), pids, len(list), list, d.Log())
	}
	for _, n := range list {
		mustVirsh(t, uri, "destroy "+n)
	}
	waitNoQEMU(t, d, 30*time.Second)
}

// TestQEMUJobsNoStaleStatus starts a guest paused and destroys it, 20
// times: no status file may outlive the run it describes.
func TestQEMUJobsNoStaleStatus(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuest(t, d, "st", "")
	status := filepath.Join(d.dir, "run", "qemu", "st.status.json")
	for i := 0; i < 20; i++ {
		mustVirsh(t, uri, "start --paused st")
		// The status describes this run's QEMU, not a late write of the
		// previous run's.
		time.Sleep(200 * time.Millisecond)
		pids := daemonQEMUs(d)
		if got := guestPID(t, d, "st"); len(pids) != 1 || pids[0] != got {
			t.Fatalf("run %d: status names pid %d, QEMU processes %v", i, got, pids)
		}
		mustVirsh(t, uri, "destroy st")
		if data, err := os.ReadFile(status); err == nil {
			t.Fatalf("run %d: status after destroy:\n%s", i, data)
		}
	}
	// A late writer (the SHUTDOWN event of the last run) would land now.
	time.Sleep(2 * time.Second)
	if data, err := os.ReadFile(status); err == nil {
		t.Fatalf("stale status after destroy:\n%s\n%s", data, d.Log())
	}
	waitState(t, d, "st", "shut off (destroyed)", 10*time.Second)
	waitNoQEMU(t, d, 30*time.Second)
}

// holdJobWithSave starts `virsh save` of name into a FIFO nobody reads:
// the save holds the guest's job for as long as the FIFO stays unread
// (minutes, far past the 30 s job timeout). release reads the FIFO so the
// save can go on; done reports virsh's exit code.
func holdJobWithSave(t *testing.T, d *daemon, name string) (release func(), done chan int) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "save.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done = make(chan int, 1)
	go func() {
		_, _, rc := virsh(t, d.URI("qemu"), "save "+name+" "+fifo)
		done <- rc
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			go func() {
				f, err := os.Open(fifo)
				if err != nil {
					return
				}
				defer f.Close()
				buf := make([]byte, 64<<10)
				for {
					if _, err := f.Read(buf); err != nil {
						return
					}
				}
			}()
		})
	}
	t.Cleanup(release)
	time.Sleep(2 * time.Second) // the save now waits on the FIFO
	return release, done
}

// TestQEMUJobsDestroyUnderHeldJob: while a save holds the guest's job
// for longer than the job timeout, destroy succeeds at once, the guest is
// shut off (destroyed), the save fails, and start works right after
// (before the save's file is ever opened).
func TestQEMUJobsDestroyUnderHeldJob(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuest(t, d, "hj", "")
	mustVirsh(t, uri, "start hj")
	waitState(t, d, "hj", "running (booted)", 30*time.Second)
	pid := guestPID(t, d, "hj")
	release, saved := holdJobWithSave(t, d, "hj")
	// The save is the async job: domjobinfo shows it, and a job it does
	// not allow times out with libvirt's text naming it.
	if out := mustVirsh(t, uri, "domjobinfo hj"); !strings.Contains(out, "Save") {
		t.Errorf("domjobinfo during save:\n%s", out)
	}
	want := "Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSave)"
	if _, errOut, rc := virsh(t, uri, "suspend hj"); rc == 0 || !strings.Contains(errOut, want) {
		t.Errorf("suspend during save: rc=%d %s", rc, errOut)
	}
	if out, errOut, rc := virsh(t, uri, "destroy hj"); rc != 0 {
		t.Fatalf("destroy under a held job: rc=%d %s%s\n%s", rc, out, errOut, d.Log())
	}
	waitState(t, d, "hj", "shut off (destroyed)", 10*time.Second)
	if processAlive(pid) {
		t.Fatalf("QEMU %d alive after destroy", pid)
	}
	// The save ends with the run it was saving: the guest starts again
	// while the FIFO is still unread.
	select {
	case rc := <-saved:
		if rc == 0 {
			t.Errorf("save of a destroyed guest succeeded")
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("save still running after destroy")
	}
	mustVirsh(t, uri, "start hj")
	waitState(t, d, "hj", "running (booted)", 30*time.Second)
	release()
	// The abandoned open of the earlier save leaves the new run alone.
	time.Sleep(time.Second)
	waitState(t, d, "hj", "running (booted)", 10*time.Second)
	mustVirsh(t, uri, "destroy hj")
	waitNoQEMU(t, d, 30*time.Second)
}

// TestQEMUJobsEOFWhileJobHeld: a save holds the guest's job on a FIFO
// nobody reads and QEMU is SIGKILLed meanwhile. The guest must end shut
// off (crashed) with its event, the save fail once the FIFO is read, and
// the guest start again.
func TestQEMUJobsEOFWhileJobHeld(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	ev := watchEvents(t, uri)
	defineGuest(t, d, "eof", "")
	mustVirsh(t, uri, "start eof")
	waitState(t, d, "eof", "running (booted)", 30*time.Second)
	pid := guestPID(t, d, "eof")
	release, saved := holdJobWithSave(t, d, "eof")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Longer than the 30 s job timeout: a handler that gives up then
	// leaves the dead guest "running".
	waitState(t, d, "eof", "shut off (crashed)", 60*time.Second)
	ev.expect(t, []string{"'eof': Stopped Failed"}, 10*time.Second)
	release()
	select {
	case rc := <-saved:
		if rc == 0 {
			t.Errorf("save of a crashed guest succeeded")
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("save still running")
	}
	mustVirsh(t, uri, "start eof")
	waitState(t, d, "eof", "running (booted)", 30*time.Second)
	mustVirsh(t, uri, "destroy eof")
	waitNoQEMU(t, d, 30*time.Second)
}

// qemuTops is the top image file of every drive as QEMU itself reports
// it (query-block through qemu-monitor-command).
func qemuTops(t *testing.T, d *daemon, name string) []string {
	t.Helper()
	out := mustVirsh(t, d.URI("qemu"), `qemu-monitor-command `+name+` '{"execute":"query-block"}'`)
	var reply struct {
		Return []struct {
			Inserted *struct {
				File string `json:"file"`
			} `json:"inserted"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Fatalf("query-block: %v\n%s", err, out)
	}
	var tops []string
	for _, b := range reply.Return {
		if b.Inserted != nil {
			tops = append(tops, b.Inserted.File)
		}
	}
	return tops
}

// hasOpen reports whether process pid has path open.
func hasOpen(pid int, path string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == path {
			return true
		}
	}
	return false
}

// TestQEMUJobsSnapshotCrashWindow kills govirtd in the middle of a live
// disk-only snapshot: once QEMU opened the overlay image, it is stopped (so
// the daemon hangs on its next monitor command) and govirtd SIGKILLed;
// QEMU then runs whatever it was sent. After the restart the live XML
// names the image QEMU really writes to, the snapshot exists exactly when
// it does, and the next snapshot works (no "Duplicate nodes").
func TestQEMUJobsSnapshotCrashWindow(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	defineDiskGuest(t, d, "sc", base, "qcow2")
	mustVirsh(t, uri, "start sc")
	waitState(t, d, "sc", "running (booted)", 30*time.Second)
	pid := guestPID(t, d, "sc")
	overlay := filepath.Join(dir, "base.s1")
	go func() { virsh(t, uri, "snapshot-create-as sc s1 --disk-only") }()
	// Once QEMU has the overlay open (blockdev-add done), the daemon is
	// about to send, or has sent, the transaction.
	deadline := time.Now().Add(120 * time.Second)
	for !hasOpen(pid, overlay) {
		if time.Now().After(deadline) {
			t.Fatalf("QEMU never opened the overlay\n%s", d.Log())
		}
		time.Sleep(500 * time.Microsecond)
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	time.Sleep(time.Second) // the daemon now waits on QEMU
	d.cmd.Process.Kill()
	d.cmd.Wait()
	syscall.Kill(pid, syscall.SIGCONT)
	time.Sleep(2 * time.Second) // QEMU runs what it was sent
	d.launch()

	waitState(t, d, "sc", "running (booted)", 30*time.Second)
	top := liveChain(t, d, "sc", "vda")[0].Path
	tops := qemuTops(t, d, "sc")
	if !slices.Contains(tops, top) {
		t.Fatalf("live XML names %s, QEMU writes to %v\n%s", top, tops, d.Log())
	}
	snaps := snapNames(t, uri, "sc")
	if (top == overlay) != (snaps == "s1") {
		t.Fatalf("top %s with snapshots %q", top, snaps)
	}
	if out, errOut, rc := virsh(t, uri, "snapshot-create-as sc s2 --disk-only"); rc != 0 {
		t.Fatalf("next snapshot: rc=%d %s%s\n%s", rc, out, errOut, d.Log())
	}
	s2 := filepath.Join(dir, "base.s2")
	if top := liveChain(t, d, "sc", "vda")[0].Path; top != s2 {
		t.Errorf("live top %s after the next snapshot, want %s", top, s2)
	}
	if tops := qemuTops(t, d, "sc"); !slices.Contains(tops, s2) {
		t.Errorf("QEMU writes to %v after the next snapshot, want %s", tops, s2)
	}
	mustVirsh(t, uri, "destroy sc")
	waitNoQEMU(t, d, 30*time.Second)
}

// TestQEMUJobsReusedPID: QEMU dies while govirtd is down and its pid now
// names an unrelated process (simulated by pointing the status file at
// one). The restarted daemon must not adopt nor signal that process: the
// guest is shut off and starts again.
func TestQEMUJobsReusedPID(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuest(t, d, "rp", "")
	mustVirsh(t, uri, "start rp")
	waitState(t, d, "rp", "running (booted)", 30*time.Second)
	pid := guestPID(t, d, "rp")
	d.cmd.Process.Kill()
	d.cmd.Wait()
	syscall.Kill(pid, syscall.SIGKILL)
	for processAlive(pid) {
		time.Sleep(50 * time.Millisecond)
	}
	other := exec.Command("sleep", "600")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	path := filepath.Join(d.dir, "run", "qemu", "rp.status.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	st["pid"] = other.Process.Pid
	if data, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d.launch()
	out, _, _ := virsh(t, uri, "domstate rp")
	if !strings.HasPrefix(strings.TrimSpace(out), "shut off") {
		t.Fatalf("guest whose QEMU died shows %q\n%s", out, d.Log())
	}
	time.Sleep(time.Second)
	if !processAlive(other.Process.Pid) {
		t.Fatal("the process that reused the pid was killed")
	}
	mustVirsh(t, uri, "start rp")
	waitState(t, d, "rp", "running (booted)", 30*time.Second)
	mustVirsh(t, uri, "destroy rp")
	if !processAlive(other.Process.Pid) {
		t.Fatal("the process that reused the pid was killed")
	}
}

// TestQEMUJobsDestroyUnderSyncJob: a suspend holds the sync job on a
// SIGSTOPped QEMU that never answers; destroy kills QEMU first, so the
// suspend fails and destroy gets the job: the guest is shut off
// (destroyed) and starts again.
func TestQEMUJobsDestroyUnderSyncJob(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuest(t, d, "sj", "")
	mustVirsh(t, uri, "start sj")
	waitState(t, d, "sj", "running (booted)", 30*time.Second)
	pid := guestPID(t, d, "sj")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	suspended := make(chan int, 1)
	go func() {
		_, _, rc := virsh(t, uri, "suspend sj")
		suspended <- rc
	}()
	time.Sleep(time.Second) // the suspend now waits on QEMU
	if out, errOut, rc := virsh(t, uri, "destroy sj"); rc != 0 {
		t.Fatalf("destroy under a sync job: rc=%d %s%s\n%s", rc, out, errOut, d.Log())
	}
	waitState(t, d, "sj", "shut off (destroyed)", 10*time.Second)
	if rc := <-suspended; rc == 0 {
		t.Errorf("suspend of a destroyed guest succeeded")
	}
	if processAlive(pid) {
		t.Fatalf("QEMU %d alive after destroy", pid)
	}
	mustVirsh(t, uri, "start sj")
	waitState(t, d, "sj", "running (booted)", 30*time.Second)
	mustVirsh(t, uri, "destroy sj")
	waitNoQEMU(t, d, 30*time.Second)
}
