package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/conf"
	"govirt/virerr"
)

// jobMonitor plays QEMU's side of block commits: an active commit gets
// ready, an inner one pending, job-complete/job-finalize/block-job-cancel
// conclude them; a commit of failJob concludes at once with an error.
type jobMonitor struct {
	d       *Driver
	v       *vm
	failJob string

	mu   sync.Mutex
	cmds []string
	errs map[string]string
}

func (m *jobMonitor) Execute(_ context.Context, cmd string, args, ret any) error {
	// Typed commands send structs: read them as QEMU would, from JSON.
	var a map[string]any
	if b, err := json.Marshal(args); err == nil {
		_ = json.Unmarshal(b, &a)
	}
	m.mu.Lock()
	m.cmds = append(m.cmds, cmd)
	if m.errs == nil {
		m.errs = map[string]string{}
	}
	var list []qemuJob
	for id, e := range m.errs {
		list = append(list, qemuJob{ID: id, Status: "concluded", Error: e})
	}
	m.mu.Unlock()
	ev := func(id any, status string) {
		m.d.handleEvent(m.v, "JOB_STATUS_CHANGE", json.RawMessage(fmt.Sprintf(`{"id":%q,"status":%q}`, id, status)))
	}
	switch cmd {
	case "block-commit":
		id := a["job-id"].(string)
		m.mu.Lock()
		m.errs[id] = ""
		if id == m.failJob {
			m.errs[id] = "boom"
		}
		m.mu.Unlock()
		switch {
		case id == m.failJob:
			ev(id, "concluded")
		case a["auto-finalize"] == true:
			ev(id, "ready")
		default:
			ev(id, "pending")
		}
	case "job-complete", "job-finalize":
		ev(a["id"], "concluded")
	case "block-job-cancel":
		ev(a["device"], "concluded")
	case "query-jobs":
		data, _ := json.Marshal(list)
		return json.Unmarshal(data, ret)
	}
	return nil
}

func (m *jobMonitor) Close() error { return nil }

func (m *jobMonitor) commands() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.cmds, " ")
}

// liveChain gives each image of a file chain under dir its index and
// node names, top first from n down, and creates the files.
func liveChainIn(t *testing.T, dir string, n int, names ...string) conf.DiskSource {
	var paths []string
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	src := chainOf(paths...)
	for l := &src; l.Type != ""; l = l.Backing {
		l.Index = n
		l.NodeName, l.NodeNameFormat = nodeNames(n)
		n--
	}
	return src
}

func snapTestVM(t *testing.T, failJob string) (*Driver, *vm, *jobMonitor, string) {
	t.Helper()
	mon := &jobMonitor{failJob: failJob}
	d, v, _ := runningVM(t, nil, "")
	dir := t.TempDir()
	live := domWith(liveChainIn(t, dir, 3, "top", "mid", "base"))
	live.Devices.Disks = append(live.Devices.Disks, &conf.Disk{Device: "disk", TargetDev: "vdb", Source: liveChainIn(t, dir, 5, "b1", "b0")})
	mon.d, mon.v = d, v
	v.mu.Lock()
	v.live, v.mon = live, mon
	resetBlockState(v, 6)
	v.mu.Unlock()
	// s0 covers both disks: it marks them while a later snapshot goes.
	s0 := extSnap("s0", "", filepath.Join(dir, "base"), "/nowhere")
	s0.Disks = append(s0.Disks, conf.SnapshotDisk{Name: "vdb", Snapshot: "external", SourceFile: filepath.Join(dir, "b0")})
	if err := d.saveSnap(v.name, s0); err != nil {
		t.Fatal(err)
	}
	return d, v, mon, dir
}

// TestMergeRunning drives the owned jobs of a snapshot delete: an inner
// commit on vda (finalised once pending) and an active one on vdb
// (pivoted once ready). The overlays leave the chains and their files
// go; the other images keep their indexes; the marks are cleared.
func TestMergeRunning(t *testing.T) {
	d, v, mon, dir := snapTestVM(t, "")
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	vda, vdb := live.Devices.Disks[0], live.Devices.Disks[1]
	work := []*diskMerge{
		{disk: "vda", target: "vda", top: vda.Source.Backing, prev: &vda.Source, base: vda.Source.Backing.Backing, parentSnap: "s0"},
		{disk: "vdb", target: "vdb", top: &vdb.Source, base: vdb.Source.Backing, parentSnap: "s0"},
	}
	if err := d.mergeRunning(v, mon, v.name, work); err != nil {
		t.Fatalf("%v (commands %s)", err, mon.commands())
	}
	v.mu.Lock()
	a, b := diskByTarget(v.live, "vda"), diskByTarget(v.live, "vdb")
	jobs := len(blockOf(v).Jobs)
	v.mu.Unlock()
	if got := strings.Join(paths(a), " "); got != filepath.Join(dir, "top")+" "+filepath.Join(dir, "base") || a.Source.Index != 3 || a.Source.Backing.Index != 1 {
		t.Errorf("vda after the inner commit: %s (%d, %d)", got, a.Source.Index, a.Source.Backing.Index)
	}
	if got := strings.Join(paths(b), " "); got != filepath.Join(dir, "b0") || b.Source.Index != 4 || b.Mirror != nil {
		t.Errorf("vdb after the active commit: %s (%d)", got, b.Source.Index)
	}
	if jobs != 0 {
		t.Errorf("%d jobs left", jobs)
	}
	for _, f := range []string{"mid", "b1"} {
		if fileExists(filepath.Join(dir, f)) {
			t.Errorf("%s not deleted", f)
		}
	}
	if got := mon.commands(); !strings.Contains(got, "job-finalize") || !strings.Contains(got, "job-complete") {
		t.Errorf("commands: %s", got)
	}
	for _, sd := range d.loadSnaps(v.name).byName["s0"].Disks {
		if sd.DeleteInProgress {
			t.Errorf("%s still marked", sd.Name)
		}
	}
}

// TestMergeRunningFailure: when one commit fails the others are
// cancelled before they change anything, the error is libvirt's and, as
// in libvirt, the marks stay.
func TestMergeRunningFailure(t *testing.T) {
	d, v, mon, dir := snapTestVM(t, "commit-vdb-libvirt-5-format")
	v.mu.Lock()
	vda, vdb := v.live.Devices.Disks[0], v.live.Devices.Disks[1]
	v.mu.Unlock()
	work := []*diskMerge{
		{disk: "vda", target: "vda", top: &vda.Source, base: vda.Source.Backing, parentSnap: "s0"},
		{disk: "vdb", target: "vdb", top: &vdb.Source, base: vdb.Source.Backing, parentSnap: "s0"},
	}
	err := d.mergeRunning(v, mon, v.name, work)
	wantErrCode(t, err, virerr.ErrInternalError, "block commit failed while deleting disk 'vdb' snapshot: 'boom'")
	if got := mon.commands(); !strings.Contains(got, "block-job-cancel") || strings.Contains(got, "job-complete") {
		t.Errorf("commands: %s", got)
	}
	// The cancelled job ends as any other, once QEMU says so.
	var a *conf.Disk
	jobs := 1
	for i := 0; i < 500 && jobs > 0; i++ {
		time.Sleep(2 * time.Millisecond)
		v.mu.Lock()
		a, jobs = diskByTarget(v.live, "vda"), len(blockOf(v).Jobs)
		v.mu.Unlock()
	}
	if len(layersOf(&a.Source)) != 3 || a.Mirror != nil || jobs != 0 {
		t.Errorf("vda changed: %v mirror %v, %d jobs", paths(a), a.Mirror, jobs)
	}
	if !fileExists(filepath.Join(dir, "top")) || !fileExists(filepath.Join(dir, "b1")) {
		t.Error("an overlay was deleted")
	}
	for _, sd := range d.loadSnaps(v.name).byName["s0"].Disks {
		if !sd.DeleteInProgress {
			t.Errorf("%s not marked", sd.Name)
		}
	}
}
