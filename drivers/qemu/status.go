package qemu

import (
	"bytes"
	"encoding/json"
	"govirt/drivers/internal/safepath"
	"os"
	"path/filepath"
	"strings"
	"time"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/caps"
)

// statusVersion changes when the status layout changes incompatibly.
const statusVersion = 1

// status is what a running guest needs to survive a daemon restart. It is
// rewritten atomically after every state change.
type status struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	UUID    string `json:"uuid"`
	ID      int32  `json:"id"`
	PID     int    `json:"pid"`
	// PIDStart is the QEMU process's start time (field 22 of
	// /proc/PID/stat), so a reused pid is never taken for it.
	PIDStart       uint64          `json:"pid_start,omitempty"`
	State          driver.State    `json:"state"`
	Reason         int32           `json:"reason"`
	Monitor        string          `json:"monitor"`
	LiveXML        string          `json:"live_xml"`
	OrigCPU        string          `json:"orig_cpu,omitempty"`
	Persistent     bool            `json:"persistent"`
	Caps           json.RawMessage `json:"qemu_caps,omitempty"`
	FakeReboot     bool            `json:"fake_reboot"`
	PausedShutdown bool            `json:"paused_shutdown"`
	StartedAt      time.Time       `json:"started_at"`
	// Block is the image index counter and the running block jobs.
	Block *blockState `json:"block,omitempty"`
	// Migration is the migration job in progress, if any.
	Migration *migration `json:"migration,omitempty"`
	// Job is the async job in progress, so a restarted daemon can finish
	// or roll it back.
	Job *statusJob `json:"job,omitempty"`
	// AgentTimeout is the guest agent's response timeout a user set
	// (libvirt's agentTimeout), absent for the default.
	AgentTimeout *int32 `json:"agent_timeout,omitempty"`
	// Numad is numad's advice for automatic placement (libvirt's
	// <numad nodeset='' cpuset=''/> in its status XML).
	Numad *statusNumad `json:"numad,omitempty"`
}

// statusNumad is an autoPlacement in libvirt's bitmap syntax.
type statusNumad struct {
	Nodeset string `json:"nodeset"`
	Cpuset  string `json:"cpuset"`
}

// statusJob is the async job part of a status file.
type statusJob struct {
	Async string `json:"async"`
	Phase string `json:"phase,omitempty"`
	// Snapshot is what a disk-only snapshot is about to do, recorded
	// before it touches QEMU.
	Snapshot *snapRecord `json:"snapshot,omitempty"`
	// PreState is the state before the job paused the guest.
	PreState driver.State `json:"pre_state,omitempty"`
}

// jobForStatus is v's async job as the status stores it; call with v.mu held.
func jobForStatus(v *vm) *statusJob {
	k, _, phase, _ := v.job.asyncInfo()
	if k == asyncNone {
		return nil
	}
	return &statusJob{Async: k.String(), Phase: phase, PreState: v.jobPreState, Snapshot: v.jobSnap}
}

func (d *Driver) statusPath(name string) (string, error) {
	return safepath.Join(d.dirs.status, name, ".status.json")
}

// capsJSON is what a status file stores of the QEMU capabilities: the
// schema is only needed to build command lines and stays in the cache, so
// status files stay small, and it is encoded once per start, not per save.
func capsJSON(qc *caps.Caps) (json.RawMessage, error) {
	return json.Marshal(qc.Slim())
}

// statusCaps decodes a status file's capabilities; nil when it has none.
func (st *status) caps() (*caps.Caps, error) {
	if len(st.Caps) == 0 || string(st.Caps) == "null" {
		return nil, nil
	}
	var qc caps.Caps
	if err := json.Unmarshal(st.Caps, &qc); err != nil {
		return nil, err
	}
	return &qc, nil
}

// saveStatus snapshots v's running state to disk. Every guest has one
// writer: snapshots are numbered under v.mu and written in v.stMu only if
// none newer was written, and only while the run they describe is the
// current one, so an event handler that lost the race to a job holder (or
// to cleanup) never puts back an older state or a removed file.
func (d *Driver) saveStatus(v *vm) error {
	v.mu.Lock()
	if !v.active() || v.live == nil {
		v.mu.Unlock()
		return nil
	}
	st := status{
		Version: statusVersion, Name: v.name, UUID: v.uuid.String(), ID: v.id,
		State: v.state, Reason: v.reason, Persistent: v.persistent,
		FakeReboot: v.fakeReboot, PausedShutdown: v.pausedShutdown, StartedAt: v.startedAt,
	}
	dir, err := d.domainDir(v.name)
	if err != nil {
		v.mu.Unlock()
		return err
	}
	st.Monitor = filepath.Join(dir, "monitor.sock")
	if v.proc != nil {
		st.PID, st.PIDStart = v.proc.pid, v.proc.start
	}
	capsData := v.capsJSON
	resume := d.adoptPendingBlockState(v)
	st.Block = blockStateForStatus(v)
	if v.mig != nil {
		m := *v.mig
		st.Migration = &m
	}
	st.Job = jobForStatus(v)
	if t := v.ext.agent.timeoutForStatus(); t != agentTimeoutDefault {
		st.AgentTimeout = &t
	}
	st.Numad = numadForStatus(vmAutoPlacement(v))
	// The live definition is never changed in place (setters replace
	// it), so it is formatted outside the lock.
	live, run := v.live, v.run
	st.OrigCPU = string(v.origCPU)
	v.stSeq++
	seq := v.stSeq
	v.mu.Unlock()
	if resume {
		d.resumeBlockJobs(v)
	}
	// FormatStatus keeps the block node names the driver needs after a
	// restart.
	xml, err := live.Format(conf.FormatSecure | conf.FormatStatus)
	if err != nil {
		return err
	}
	st.LiveXML = string(xml)
	data, err := statusParts(&st, capsData)
	if err != nil {
		return err
	}
	path, err := d.statusPath(st.Name)
	if err != nil {
		return err
	}
	v.stMu.Lock()
	defer v.stMu.Unlock()
	v.mu.Lock()
	stale := !v.active() || v.run != run || v.stDone > seq
	v.mu.Unlock()
	if stale {
		return nil
	}
	// Status files describe running QEMUs only: atomic, not durable
	// (see WriteVolatile), like libvirt's on /run.
	if err := atomicfile.WriteVolatile(path, 0o600, data...); err != nil {
		return err
	}
	v.mu.Lock()
	v.stDone = seq
	v.mu.Unlock()
	return nil
}

// marshalStatus encodes st with caps, QEMU's capabilities as capsJSON
// made them, spliced in as they are: handed to json.Marshal as a
// RawMessage, the ~100 KB would be validated and compacted again on every
// write, which was most of a guest start's CPU in the daemon.
func marshalStatus(st *status, caps json.RawMessage) ([]byte, error) {
	parts, err := statusParts(st, caps)
	return bytes.Join(parts, nil), err
}

// statusParts is marshalStatus in pieces for a file write, so that the
// shared capabilities are written from where they are instead of being
// copied into a new buffer per write (three per guest start).
func statusParts(st *status, caps json.RawMessage) ([][]byte, error) {
	st.Caps = nil
	data, err := json.Marshal(st)
	if err != nil || len(caps) == 0 {
		return [][]byte{data}, err
	}
	return [][]byte{data[:len(data)-1], []byte(`,"qemu_caps":`), caps, []byte("}")}, nil
}

// saveStatusLogged is saveStatus for event handlers, which cannot fail.
func (d *Driver) saveStatusLogged(v *vm) {
	if err := d.saveStatus(v); err != nil {
		d.log.Error("cannot save status", "domain", v.name, "err", err)
	}
}

// removeStatus deletes v's status file once its run ended (v is no
// longer active, so no writer can put it back).
func (d *Driver) removeStatus(v *vm) {
	v.mu.Lock()
	name := v.name
	v.mu.Unlock()
	path, err := d.statusPath(name)
	if err == nil {
		v.stMu.Lock()
		err = atomicfile.RemoveVolatile(path)
		v.stMu.Unlock()
	}
	if err != nil {
		d.log.Error("cannot remove status", "domain", name, "err", err)
	}
}

// readStatuses returns every status file, keyed by path.
func (d *Driver) readStatuses() map[string]*status {
	out := map[string]*status{}
	ents, err := os.ReadDir(d.dirs.status)
	if err != nil {
		return out
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".status.json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(d.dirs.status, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			d.log.Error("cannot read status", "path", path, "err", err)
			continue
		}
		var st status
		if err := json.Unmarshal(data, &st); err != nil {
			d.log.Error("cannot parse status", "path", path, "err", err)
			continue
		}
		out[path] = &st
		d.stashPendingBlockState(st.Name, st.Block)
	}
	return out
}
