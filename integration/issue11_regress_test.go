package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// statusState is the run state a guest's status file records (1 running,
// 3 paused, 0 without a file).
func statusState(d *daemon, name string) int {
	data, err := os.ReadFile(filepath.Join(d.dir, "run", "qemu", name+".status.json"))
	if err != nil {
		return 0
	}
	var st struct {
		State int `json:"state"`
	}
	json.Unmarshal(data, &st)
	return st.State
}

// TestQEMUJobsStatusWriteOrder: suspend and resume from several clients
// at once, each of which makes both the job holder and QEMU's STOP or
// RESUME event save the guest's status. Once the calls are answered the
// status file must record the state the daemon reports: a snapshot taken
// earlier but written later (the status writes of issue 11, made under
// the lock and written after it) must never win. A daemon restarted from
// such a file would believe a stale state.
func TestQEMUJobsStatusWriteOrder(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuest(t, d, "so", "")
	mustVirsh(t, uri, "start so")
	waitState(t, d, "so", "running (booted)", 30*time.Second)
	want := map[string]int{"running": 1, "paused": 3}
	var bad []string
	check := func(when string) {
		// The last event's write may still be on its way: give it time,
		// then the file must agree with the daemon.
		var st string
		var got int
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			out, _, _ := virsh(t, uri, "domstate so")
			st, got = strings.TrimSpace(out), statusState(d, "so")
			if got == want[st] || time.Now().After(deadline) {
				break
			}
		}
		if got != want[st] {
			bad = append(bad, fmt.Sprintf("%s: daemon says %s, status file state %d", when, st, got))
		}
	}
	for i := 0; i < 30; i++ {
		mustVirsh(t, uri, "suspend so")
		check(fmt.Sprintf("suspend %d", i))
		mustVirsh(t, uri, "resume so")
		check(fmt.Sprintf("resume %d", i))
	}
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 8; i++ {
					runVirsh(uri, 60*time.Second, "suspend", "so")
					runVirsh(uri, 60*time.Second, "resume", "so")
				}
			}()
		}
		wg.Wait()
		check(fmt.Sprintf("concurrent round %d", round))
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d checks found a stale status:\n  %s", len(bad), 65, strings.Join(bad, "\n  "))
	}
	mustVirsh(t, uri, "destroy so")
}

// TestQEMUBlockPivotCrashWindow: govirtd dies after QEMU received a
// ready active commit's job-complete but before the status file recorded
// the pivot (simulated by sending job-complete on the monitor socket
// while the daemon is down, with "ready" on record). The restarted daemon
// finds the job concluded: the live and persistent definitions must
// follow what QEMU really did (the fault suite's interrupted
// snapshot-delete left them naming the merged overlay), no block job
// stays listed, and the next snapshot works.
func TestQEMUBlockPivotCrashWindow(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base, overlay := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	defineDiskGuest(t, d, "pv", base, "qcow2")
	mustVirsh(t, uri, "start pv")
	waitState(t, d, "pv", "running (booted)", 30*time.Second)
	mustVirsh(t, uri, "snapshot-create-as pv s1 --disk-only --no-metadata --diskspec vda,file="+overlay)
	mustVirsh(t, uri, "blockcommit pv vda --active")
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(mustVirsh(t, uri, "dumpxml pv"), "ready='yes'"); {
		if time.Now().After(deadline) {
			t.Fatalf("commit never ready\n%s", d.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the ready state reaches the status file
	data, err := os.ReadFile(filepath.Join(d.dir, "run", "qemu", "pv.status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Monitor string `json:"monitor"`
	}
	json.Unmarshal(data, &st)
	d.cmd.Process.Kill()
	d.cmd.Wait()
	// What the killed daemon had sent: QEMU pivots and concludes the job.
	mon := dialQMP(t, st.Monitor)
	var jobs []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	mon.run(t, "query-jobs", nil, &jobs)
	if len(jobs) != 1 || jobs[0].Status != "ready" {
		t.Fatalf("jobs before the pivot: %+v", jobs)
	}
	mon.run(t, "job-complete", map[string]any{"id": jobs[0].ID}, nil)
	for deadline := time.Now().Add(30 * time.Second); jobs[0].Status != "concluded"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job never concluded: %+v", jobs)
		}
		mon.run(t, "query-jobs", nil, &jobs)
	}
	mon.Close()
	d.launch()

	var bad string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		b := diskAgreesNow(d, "pv")
		if b == nil {
			bad = ""
			break
		}
		bad = b[0]
		if time.Now().After(deadline) {
			break
		}
	}
	if bad != "" {
		t.Fatalf("after the restart: %s\n%s", bad, d.Log())
	}
	if top := vdaSource(mustVirsh(t, uri, "dumpxml pv")); top != base {
		t.Errorf("live top %s after the pivot, want %s", top, base)
	}
	if out := jobInfo(t, uri, "pv"); !strings.Contains(out, "No current block job") {
		t.Errorf("job still listed: %q", out)
	}
	s2 := filepath.Join(dir, "s2.qcow2")
	if out, errOut, rc := virsh(t, uri, "snapshot-create-as pv s2 --disk-only --no-metadata --diskspec vda,file="+s2); rc != 0 {
		t.Fatalf("next snapshot: rc=%d %s%s\n%s", rc, out, errOut, d.Log())
	}
	if bad := diskAgreesNow(d, "pv"); bad != nil || vdaSource(mustVirsh(t, uri, "dumpxml pv")) != s2 {
		t.Errorf("after the next snapshot: %v", bad)
	}
	mustVirsh(t, uri, "destroy pv")
}

// qmpConn is a raw QMP session on a guest's monitor socket, for tests
// that act as a daemon killed mid-command would have.
type qmpConn struct {
	net.Conn
	r *bufio.Reader
}

func dialQMP(t *testing.T, path string) *qmpConn {
	t.Helper()
	var c net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err = net.Dial("unix", path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("monitor %s: %v", path, err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	q := &qmpConn{Conn: c, r: bufio.NewReader(c)}
	if _, err := q.r.ReadBytes('\n'); err != nil { // the greeting
		t.Fatalf("QMP greeting: %v", err)
	}
	q.run(t, "qmp_capabilities", nil, nil)
	return q
}

// run sends one command and decodes its return into out, skipping events.
func (q *qmpConn) run(t *testing.T, cmd string, args any, out any) {
	t.Helper()
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := q.Write(append(b, '\n')); err != nil {
		t.Fatalf("QMP %s: %v", cmd, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("QMP %s: %v", cmd, err)
		}
		var rep struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &rep); err != nil {
			t.Fatalf("QMP %s reply %q: %v", cmd, line, err)
		}
		if rep.Event != "" {
			continue
		}
		if rep.Error != nil {
			t.Fatalf("QMP %s: %s", cmd, rep.Error.Desc)
		}
		if out != nil {
			if err := json.Unmarshal(rep.Return, out); err != nil {
				t.Fatalf("QMP %s return %s: %v", cmd, rep.Return, err)
			}
		}
		return
	}
}
