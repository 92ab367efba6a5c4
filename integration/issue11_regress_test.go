package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUJobsStatusWriteOrder: python-libvirt suspends and resumes a
// guest as fast as one connection allows; each change makes the job
// holder or QEMU's STOP/RESUME event save the guest's status. After each
// round the status file must record the state the daemon reports: a
// snapshot taken earlier but written later (issue 11's status writes,
// taken under the lock and written after it from both the event goroutine
// and job holders) must never win, or a restarted daemon would believe a
// stale state.
func TestQEMUJobsStatusWriteOrder(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	// A large description makes every status write slow (the live XML
	// is formatted into it), which widens the window between a write's
	// snapshot and the file.
	defineGuest(t, d, "so", "<description>"+strings.Repeat("status write order ", 40000)+"</description>")
	mustVirsh(t, uri, "start so")
	waitState(t, d, "so", "running (booted)", 30*time.Second)
	status := filepath.Join(d.dir, "run", "qemu", "so.status.json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/python/status_write_order.py", uri, "so", status, "60", "2").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("script: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "stale") {
		t.Fatalf("the status file lagged the guest:\n%s", out)
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

// TestQEMUBlockCommitAfterRestore: a guest restored from a managed save
// runs the definition its image carries, read back without the images'
// index attributes. An active commit with pivot must still move the live
// and persistent definitions to the image QEMU now writes (the fault
// suite found them left on the old top, with data written since then
// lost at the next cold boot).
func TestQEMUBlockCommitAfterRestore(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	defineDiskGuest(t, d, "cr", base, "qcow2")
	mustVirsh(t, uri, "start cr")
	waitState(t, d, "cr", "running (booted)", 30*time.Second)
	mustVirsh(t, uri, "snapshot-create-as cr s0 --disk-only --diskspec vda,file="+filepath.Join(dir, "s0.qcow2"))
	mustVirsh(t, uri, "snapshot-create-as cr s1 --disk-only --diskspec vda,file="+filepath.Join(dir, "s1.qcow2"))
	mustVirsh(t, uri, "managedsave cr")
	mustVirsh(t, uri, "start cr")
	if out := mustVirsh(t, uri, "blockcommit cr vda --active --pivot --wait --timeout 60"); !strings.Contains(out, "Successfully pivoted") {
		t.Errorf("blockcommit: %s", out)
	}
	if bad := diskAgreesNow(d, "cr"); bad != nil {
		t.Fatalf("after the commit: %v\n%s", bad, d.Log())
	}
	if top := vdaSource(mustVirsh(t, uri, "dumpxml cr")); top != base {
		t.Errorf("live top %s after the commit, want %s", top, base)
	}
	// The same after a daemon restart, whose status file carries no
	// index either.
	mustVirsh(t, uri, "snapshot-create-as cr s2 --disk-only --diskspec vda,file="+filepath.Join(dir, "s2.qcow2"))
	d.crashRestart()
	if out := mustVirsh(t, uri, "blockcommit cr vda --active --pivot --wait --timeout 60"); !strings.Contains(out, "Successfully pivoted") {
		t.Errorf("blockcommit after the restart: %s", out)
	}
	if bad := diskAgreesNow(d, "cr"); bad != nil {
		t.Fatalf("after the commit after the restart: %v\n%s", bad, d.Log())
	}
	mustVirsh(t, uri, "destroy cr")
}
