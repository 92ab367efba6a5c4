package qemu

import (
	"sync"

	"govirt/internal/cgroup"
)

// vmExt is the state the driver's subsystems (block jobs, consoles,
// hotplug, statistics, taints, snapshots) keep for one guest. It lives in
// the guest's vm, so it is created with the guest and freed with it:
// nothing package-level is keyed by guest, and an undefined or transient
// guest that stopped leaves nothing behind once the last reference to its
// vm goes. Each part has its own lock, or says which lock guards it.
type vmExt struct {
	// block is the block layer state (blockjob_state.go); guarded by
	// vm.mu. nil until the guest first starts.
	block *blockState

	// jobDone is the last completed migration's statistics
	// (migrate_jobstats.go); guarded by vm.mu.
	jobDone *completedJob

	hubsMu sync.Mutex
	hubs   map[string]*consoleHub // open console hubs by device path

	unplugMu sync.Mutex
	unplug   *unplugWait // the detach waiting for DEVICE_DELETED, if any

	statsMu sync.Mutex
	stats   statsEntry // cached statistics sample (stats_sample.go)

	taintMu sync.Mutex
	taints  taintSet // taints of the current run (qemumon_command.go)

	// snapMu serialises this guest's snapshot metadata changes and reads
	// against each other (snapshot_meta.go).
	snapMu sync.Mutex

	// cg is the guest's cgroup while it runs (cgroup_setup.go); guarded
	// by cgMu.
	cgMu sync.Mutex
	cg   *cgroup.Group
	// emuLate is the emulator placement a start left for after its
	// first cont (emulator_late.go); guarded by cgMu.
	emuLate *emuLate

	// auto is numad's advice for the current run (numad.go); guarded
	// by autoMu.
	autoMu sync.Mutex
	auto   *autoPlacement

	// agent is the guest agent connection and the agent job
	// (agent_state.go); it has its own lock.
	agent agentState
	// migSpeed is virsh migrate-setspeed's bandwidth (MiB/s) when
	// migSpeedSet, as libvirt's migMaxBandwidth: kept while the guest is
	// defined, used by a migration without its own bandwidth. Guarded by
	// vm.mu.
	migSpeed    uint64
	migSpeedSet bool

	// thresholdIndexed holds the storage nodes whose write threshold was
	// armed naming an image index ("vda[1]"), which then fire only the
	// indexed event (block_threshold.go). Guarded by vm.mu.
	thresholdIndexed map[string]bool
	// perf holds the open perf counters while the guest runs
	// (perf_events.go).
	perf perfState
}

// releaseGuestState frees what v's subsystems hold for a run that ended:
// console hubs (their readers would otherwise wait for the device to
// hang up), and the cached statistics sample. Taints and the block state are
// per run and need nothing. It is called from cleanupStopped.
func releaseGuestState(v *vm) {
	closeHubs(v)
	closeAgent(v)
	v.perfClose()
	v.ext.statsMu.Lock()
	v.ext.stats.last = nil
	v.ext.statsMu.Unlock()
}
