package qemu

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
)

// blockState is a running guest's block layer state that its live XML
// does not carry: the next free image index and the block jobs. Its
// fields are guarded by the guest's mu; the status file stores it, so a
// restarted daemon keeps numbering and keeps tracking the jobs.
type blockState struct {
	NextIndex int                  `json:"next_index"`
	Jobs      map[string]*blockJob `json:"jobs,omitempty"` // by disk target
}

// Job states, as libvirt's qemuBlockjobState names them.
const (
	jobRunning  = "running"
	jobReady    = "ready"
	jobPivoting = "pivoting"
	jobAborting = "aborting"
)

// blockJob is one QEMU block job on one disk.
type blockJob struct {
	Name  string `json:"name"`  // QEMU job-id
	Disk  string `json:"disk"`  // target dev
	Type  int32  `json:"type"`  // driver.BlockJobType*
	State string `json:"state"` // job* above
	// Images the job works on, by index (stable across daemon restarts):
	// commit top and base, pull base (0: the whole chain).
	TopIndex  int  `json:"top_index,omitempty"`
	BaseIndex int  `json:"base_index,omitempty"`
	Delete    bool `json:"delete,omitempty"`  // commit --delete
	Shallow   bool `json:"shallow,omitempty"` // copy --shallow
	// Bandwidth is the last speed set, in bytes/s.
	Bandwidth uint64 `json:"bandwidth,omitempty"`

	// done is closed when the job has ended and its outcome applied;
	// status is its final event status and errMsg QEMU's error.
	done   chan struct{}
	status int32
	errMsg string

	// An owned job is driven by the operation that started it (snapshot
	// delete), which holds the guest's job meanwhile: QEMU's events only
	// record progress here and wake it. Not saved, so after a daemon
	// restart the job is an ordinary one.
	owned     bool
	wake      chan struct{}
	pending   bool // QEMU waits for job-finalize
	concluded bool // QEMU ended it; the owner collects the outcome
}

func newBlockJob(name, disk string, typ int32) *blockJob {
	return &blockJob{Name: name, Disk: disk, Type: typ, State: jobRunning, done: make(chan struct{})}
}

// blockOf returns v's block state (v.ext.block), creating an empty one;
// call with v.mu held. The state is replaced at every start, and a guest
// that is not running has no jobs whatever it says.
func blockOf(v *vm) *blockState {
	bs := v.ext.block
	if bs == nil {
		bs = &blockState{NextIndex: 1, Jobs: map[string]*blockJob{}}
		v.ext.block = bs
	}
	if bs.Jobs == nil {
		bs.Jobs = map[string]*blockJob{}
	}
	return bs
}

// resetBlockState starts a fresh run's state; call with v.mu held.
func resetBlockState(v *vm, next int) {
	v.ext.block = &blockState{NextIndex: next, Jobs: map[string]*blockJob{}}
}

// adoptBlockState installs a state read back from a status file; call
// with v.mu held.
func adoptBlockState(v *vm, bs *blockState) {
	if bs.Jobs == nil {
		bs.Jobs = map[string]*blockJob{}
	}
	for _, j := range bs.Jobs {
		j.done = make(chan struct{})
	}
	v.ext.block = bs
}

// blockStateForStatus copies v's state for the status file; call with
// v.mu held. Nil when v has none.
func blockStateForStatus(v *vm) *blockState {
	bs := v.ext.block
	if bs == nil {
		return nil
	}
	c := &blockState{NextIndex: bs.NextIndex, Jobs: map[string]*blockJob{}}
	for k, j := range bs.Jobs {
		cj := *j
		c.Jobs[k] = &cj
	}
	return c
}

// editDisk changes one disk of v's live definition. Readers format and
// clone v.live outside v.mu, so it is never changed in place: the edit
// goes to a copy that then replaces it. fn gets nil when the disk is
// gone. Call with v.mu held; it returns the disk as now live.
func editDisk(v *vm, target string, fn func(disk *conf.Disk)) *conf.Disk {
	if v.live == nil {
		fn(nil)
		return nil
	}
	next := v.live.Clone()
	disk := diskByTarget(next, target)
	fn(disk)
	v.live = next
	return disk
}

// allocIndex hands out the next image index; call with v.mu held. It
// also steps past any index or libvirt-N node name the live definition
// already uses, so images plugged by other code paths (disk hotplug)
// never share a number with a new overlay or copy.
func allocIndex(v *vm) int {
	bs := blockOf(v)
	n := bs.NextIndex
	if v.live != nil {
		for _, d := range v.live.Devices.Disks {
			chains := []*conf.DiskSource{&d.Source}
			if d.Mirror != nil {
				chains = append(chains, &d.Mirror.Source)
			}
			for _, c := range chains {
				for _, l := range layersOf(c) {
					n = max(n, l.Index+1, nodeNumber(l.NodeName)+1, nodeNumber(l.NodeNameFormat)+1)
				}
			}
		}
	}
	bs.NextIndex = n + 1
	return n
}

// jobOn returns the job on a disk, or nil; call with v.mu held.
func jobOn(v *vm, target string) *blockJob {
	return blockOf(v).Jobs[target]
}

// jobByName finds a job by its QEMU id; call with v.mu held.
func jobByName(v *vm, name string) *blockJob {
	for _, j := range blockOf(v).Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// nodeNames are the -blockdev names of image index n, the scheme the
// command builder uses at start and libvirt uses throughout.
func nodeNames(n int) (storageNode, formatNode string) {
	s := "libvirt-" + strconv.Itoa(n)
	return s + "-storage", s + "-format"
}

// blockJobEvent publishes both block job events: BLOCK_JOB with the top
// image's path and BLOCK_JOB_2 with the target, as libvirt does.
func (d *Driver) blockJobEvent(v *vm, disk *conf.Disk, typ, status int32) {
	path, target := "", ""
	if disk != nil {
		path, target = disk.Source.Path, disk.TargetDev
	}
	d.publishDomain(v, driver.EventIDBlockJob, driver.BlockJob{Path: path, Type: typ, Status: status})
	d.publishDomain(v, driver.EventIDBlockJob2, driver.BlockJob{Path: target, Type: typ, Status: status})
}

// nodeNumber is N of a libvirt-N-storage / libvirt-N-format node name,
// 0 for any other name.
func nodeNumber(name string) int {
	rest, ok := strings.CutPrefix(name, "libvirt-")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "-")
	n, _ := strconv.Atoi(num)
	return n
}
