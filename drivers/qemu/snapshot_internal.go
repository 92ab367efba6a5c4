package qemu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// Internal snapshots live inside the guest's qcow2 images. A running
// guest's is taken by QEMU's snapshot-save job (disks plus VM state, the
// state stored in the first disk's image); libvirt 9.0 sends HMP savevm,
// which does the same on every writable disk. A shut-off guest's is
// qemu-img snapshot -c on each image, as libvirt's.

// snapJobSeq numbers QEMU snapshot jobs, so a job left behind by a
// failed attempt never clashes with the next one.
var snapJobSeq atomic.Uint64

// internalNodes is the format node of each disk of def that snap takes
// internally, in def's order: the first holds the VM state. Read-only
// images are left out, as HMP savevm leaves them.
func internalNodes(def *conf.Domain, snap *conf.DomainSnapshot) []string {
	var out []string
	for _, disk := range def.Devices.Disks {
		if disk.ReadOnly {
			continue
		}
		for _, sd := range snap.Disks {
			if sd.Name == disk.TargetDev && sd.Snapshot == "internal" && disk.Source.NodeNameFormat != "" {
				out = append(out, disk.Source.NodeNameFormat)
			}
		}
	}
	return out
}

// runSnapshotJob starts one of QEMU's snapshot jobs (start runs the
// command) and waits for it to conclude, then dismisses it. A job that
// failed gives QEMU's own error text.
func runSnapshotJob(ctx context.Context, mon monitor, cmd string, start func(string) error) error {
	id := fmt.Sprintf("govirt-%s-%d", cmd, snapJobSeq.Add(1))
	if err := start(id); err != nil {
		return err
	}
	_, err := qmp.WaitJob(ctx, mon, id, "concluded", nil, 20*time.Millisecond)
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = qmp.JobDismiss(dctx, mon, id)
	if err != nil && errors.Is(err, qmp.ErrJobFailed) {
		msg := err.Error()
		if i := strings.Index(msg, id+": "); i >= 0 {
			msg = msg[i+len(id)+2:]
		}
		return errors.New(msg)
	}
	return err
}

// createInternalActive is qemuSnapshotCreateActiveInternal: a running
// guest is paused around the snapshot (QEMU would pause it anyway) and
// resumed after; with halt, QEMU stops instead. The caller holds v's
// snapshot job.
func (d *Driver) createInternalActive(v *vm, mon monitor, snap *conf.DomainSnapshot, halt bool) error {
	ctx := context.Background()
	v.mu.Lock()
	live, state := v.live, v.state
	v.jobPreState = state
	v.mu.Unlock()
	nodes := internalNodes(live, snap)
	if len(nodes) == 0 {
		return errQEMU(virerr.ErrOperationFailed, "this domain does not have a device to take snapshots")
	}
	// The status says the guest ran: a daemon killed from here on
	// resumes it (recoverSnapshotJobs).
	if err := d.setJobPhase(v, "internal"); err != nil {
		return err
	}
	resume := false
	if state == driver.StateRunning {
		if err := d.pauseFor(ctx, v, mon, driver.PausedSave); err != nil {
			return err
		}
		resume = true
	}
	err := runSnapshotJob(ctx, mon, "snapshot-save", func(id string) error {
		return qmp.SnapshotSave(ctx, mon, qmp.SnapshotJobArgs{JobID: id, Tag: snap.Name, VMState: nodes[0], Devices: nodes})
	})
	if err != nil {
		var qe *qmp.Error
		if errors.As(err, &qe) {
			err = qmpCommandError("snapshot-save", err)
		} else {
			err = errQEMU(virerr.ErrOperationFailed, "Failed to take snapshot: %v", err)
		}
	}
	if err == nil && halt {
		d.stopFromSnapshot(v, false)
		return nil
	}
	if resume {
		if rerr := d.startCPUs(ctx, v, driver.RunningUnpaused); rerr != nil {
			d.emit(v, driver.EventSuspended, driver.EventSuspendedAPIError)
			if err == nil {
				err = errQEMU(virerr.ErrOperationFailed, "resuming after snapshot failed")
			}
		}
	}
	return err
}

// pauseFor stops the vCPUs with reason and waits for QEMU's STOP to make
// the guest paused, as qemuProcessStopCPUs.
func (d *Driver) pauseFor(ctx context.Context, v *vm, mon monitor, reason int32) error {
	v.mu.Lock()
	v.pausedReason = reason
	v.mu.Unlock()
	if err := qmp.Stop(ctx, mon); err != nil {
		return qmpFailed("pausing for snapshot", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		st, active := v.state, v.active()
		v.mu.Unlock()
		if !active {
			return errQEMU(virerr.ErrInternalError, "guest unexpectedly quit")
		}
		if st != driver.StateRunning {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The event is late: record what QEMU already did.
	v.mu.Lock()
	if v.state == driver.StateRunning {
		v.setState(driver.StatePaused, reason)
	}
	v.mu.Unlock()
	return nil
}

// stopFromSnapshot stops QEMU for a snapshot (halt, revert): the guest
// is shut off "from snapshot" and clients hear STOPPED from snapshot.
// The caller holds v's job.
// A revert (keep) starts the guest again: a transient guest stays known
// meanwhile, as libvirt keeps its domain object, instead of going as a
// transient guest does when it stops.
func (d *Driver) stopFromSnapshot(v *vm, keep bool) {
	v.mu.Lock()
	if !v.active() {
		v.mu.Unlock()
		return
	}
	v.beingDestroyed = true
	proc := v.proc
	transient := keep && !v.persistent
	if transient {
		v.persistent = true
	}
	v.mu.Unlock()
	if proc != nil {
		proc.kill(killGrace)
	}
	stopped := d.cleanupStopped(v, driver.ShutoffFromSnapshot)
	if transient {
		v.mu.Lock()
		v.persistent = false
		v.mu.Unlock()
	}
	if stopped {
		d.emit(v, driver.EventStopped, driver.EventStoppedFromSnapshot)
	}
	if !keep {
		d.dropIfTransient(v)
	}
}

// forEachQcow2 is qemuDomainSnapshotForEachQcow2: qemu-img snapshot op
// (-c, -a, -d) on every disk of def the snapshot took internally. With
// tryAll a disk that fails is skipped (and reported by the result);
// otherwise the first failure stops, a partial creation undone.
func (d *Driver) forEachQcow2(def *conf.Domain, snap *conf.DomainSnapshot, op string, tryAll bool) (skipped bool, err error) {
	mode := map[string]string{}
	for _, sd := range snap.Disks {
		mode[sd.Name] = sd.Snapshot
	}
	var done []string
	undo := func() {
		if op == "-c" {
			for _, p := range done {
				_ = runQemuImg("snapshot", "-d", snap.Name, p)
			}
		}
	}
	for _, disk := range def.Devices.Disks {
		if disk.Device != "disk" && disk.Device != "" || mode[disk.TargetDev] != "internal" {
			continue
		}
		if t := disk.Source.Type; t != "" && t != "file" && t != "block" && t != "dir" {
			return false, errQEMU(virerr.ErrOperationInvalid, "can't manipulate inactive snapshots of disk '%s'", disk.TargetDev)
		}
		if f := disk.Source.Format; f != "" && f != "qcow2" {
			if tryAll {
				d.log.Warn("skipping snapshot action", "disk", disk.TargetDev)
				skipped = true
				continue
			}
			undo()
			return false, errQEMU(virerr.ErrOperationInvalid, "Disk device '%s' does not support snapshotting", disk.TargetDev)
		}
		if e := runQemuImg("snapshot", op, snap.Name, disk.Source.Path); e != nil {
			if tryAll {
				d.log.Warn("skipping snapshot action", "disk", disk.TargetDev, "err", e)
				skipped = true
				if err == nil {
					err = e
				}
				continue
			}
			undo()
			return false, e
		}
		done = append(done, disk.Source.Path)
	}
	return skipped, err
}

// deleteInternalActive deletes an internal snapshot from a running
// guest's images with QEMU's snapshot-delete job. As libvirt, a failure
// is only logged: the metadata goes regardless.
func (d *Driver) deleteInternalActive(v *vm, mon monitor, snap *conf.DomainSnapshot) {
	v.mu.Lock()
	live, name := v.live, v.name
	v.mu.Unlock()
	nodes := internalNodes(live, snap)
	if len(nodes) == 0 {
		return
	}
	ctx := context.Background()
	err := runSnapshotJob(ctx, mon, "snapshot-delete", func(id string) error {
		return qmp.SnapshotDelete(ctx, mon, qmp.SnapshotJobArgs{JobID: id, Tag: snap.Name, Devices: nodes})
	})
	if err != nil {
		d.log.Warn("deleting an internal snapshot failed", "domain", name, "snapshot", snap.Name, "err", err)
	}
}

// snapshotDomains is what a new snapshot records of the guest: its
// definition as it runs (formatted as libvirt's qemuDomainDefFormatLive
// for a snapshot: no run-time state) and, for a running persistent guest,
// the persistent definition as <inactiveDomain>.
func snapshotDomains(v *vm) (dom, inactive *conf.Domain, err error) {
	v.mu.Lock()
	cur, def, live, persistent := v.current(), v.def, v.live, v.persistent
	v.mu.Unlock()
	data, err := cur.Format(conf.FormatInactive | conf.FormatSecure)
	if err != nil {
		return nil, nil, err
	}
	if dom, err = conf.ParseDomain(data, 0); err != nil {
		return nil, nil, err
	}
	// Image indexes belong to the run, not to the definition.
	for _, disk := range dom.Devices.Disks {
		for s := &disk.Source; s != nil; s = s.Backing {
			s.Index = 0
		}
	}
	if live != nil && persistent && def != nil {
		inactive = def.Clone()
	}
	return dom, inactive, nil
}

// setSnapshotCookie is qemuDomainSaveCookieNew's part of the metadata of
// a snapshot with memory: the CPU the guest runs with, and
// <slirpHelper/> as libvirt writes it.
func setSnapshotCookie(v *vm, snap *conf.DomainSnapshot) {
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	var elems [][]byte
	if live != nil {
		if cpu := live.Tree().Child("cpu"); cpu != nil {
			elems = append(elems, cpu.XML())
		}
	}
	elems = append(elems, []byte("<slirpHelper/>"))
	_ = snap.SetCookie(elems...)
}

// recoverSnapshotJobs settles what a killed daemon left of an internal
// or memory snapshot: QEMU's snapshot jobs run to their end and are
// dismissed, a memory stream is cancelled, and a guest the snapshot
// paused runs again, as the snapshot would have left it.
func (d *Driver) recoverSnapshotJobs(ctx context.Context, v *vm, job *statusJob) {
	v.mu.Lock()
	mon, name := v.mon, v.name
	v.mu.Unlock()
	if mon == nil {
		return
	}
	if jobs, err := qmp.QueryJobs(ctx, mon); err == nil {
		for _, j := range jobs {
			if !strings.HasPrefix(j.ID, "govirt-snapshot-") {
				continue
			}
			if _, err := qmp.WaitJob(ctx, mon, j.ID, "concluded", nil, 50*time.Millisecond); err != nil {
				d.log.Warn("interrupted snapshot job", "domain", name, "job", j.ID, "err", err)
			}
			_ = qmp.JobDismiss(ctx, mon, j.ID)
		}
	}
	if job.Phase == "memory" {
		_ = mon.Execute(ctx, "migrate_cancel", nil, nil)
	}
	v.mu.Lock()
	state := v.state
	v.mu.Unlock()
	if job.PreState == driver.StateRunning && state == driver.StatePaused {
		if err := d.startCPUs(ctx, v, driver.RunningUnpaused); err != nil {
			d.log.Warn("cannot resume after an interrupted snapshot", "domain", name, "err", err)
		}
	}
}
