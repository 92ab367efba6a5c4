package qemu

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// virsh dump: libvirt's qemuDomainCoreDumpWithFormat. A memory-only dump
// is QEMU's dump-guest-memory (ELF or a kdump/win-dmp format), run
// detached and followed with query-dump; any other dump is QEMU's
// migration stream written to the file, as libvirt's. Both run under the
// guest's dump async job, so domjobinfo shows it and destroy stays
// possible.

// virDomainCoreDumpFlags.
const (
	dumpCrash       = 1 << 0
	dumpLive        = 1 << 1
	dumpBypassCache = 1 << 2
	dumpReset       = 1 << 3
	dumpMemoryOnly  = 1 << 4
)

// dumpFormats are QEMU's names of virDomainCoreDumpFormat.
var dumpFormats = []string{"elf", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp"}

func (c *conn) DomainCoreDump(h driver.Domain, to string, flags uint32) error {
	return c.dump(h, to, 0, flags)
}

func (c *conn) DomainCoreDumpWithFormat(h driver.Domain, to string, format uint32, flags uint32) error {
	return c.dump(h, to, format, flags)
}

func (c *conn) dump(h driver.Domain, path string, format, flags uint32) error {
	if err := checkFlagsMask(flags, dumpCrash|dumpLive|dumpBypassCache|dumpReset|dumpMemoryOnly, "qemuDomainCoreDumpWithFormat"); err != nil {
		return err
	}
	d := c.d
	ctx := context.Background()
	v, err := c.asyncVM(ctx, h, asyncDump, "dump", defaultJobMask)
	if err != nil {
		return err
	}
	defer v.job.endAsync()
	v.mu.Lock()
	active, broken, mon, state, run := v.active(), v.brokenMsg, v.mon, v.state, v.run
	v.mu.Unlock()
	switch {
	case !active:
		return errNotRunning()
	case broken != "":
		return errQEMU(virerr.ErrOperationFailed, "%s", broken)
	case mon == nil:
		return errQEMU(virerr.ErrOperationInvalid, "monitor of domain '%s' is not connected", h.Name)
	}
	stillOurs := func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.active() && v.run == run
	}
	resume := state == driver.StateRunning
	paused := false
	v.mu.Lock()
	v.jobPreState = state // recovery resumes a guest a killed daemon left paused
	v.mu.Unlock()
	if flags&dumpLive == 0 && state == driver.StateRunning {
		v.mu.Lock()
		v.pausedReason = driver.PausedDump
		v.mu.Unlock()
		if err := qmp.Stop(ctx, mon); err != nil {
			return qmpFailed("pausing for dump", err)
		}
		paused = true
		if !stillOurs() {
			return errQEMU(virerr.ErrInternalError, "guest unexpectedly quit")
		}
	}
	phase := "dumping"
	if flags&dumpMemoryOnly != 0 {
		phase = phaseMemoryDump
	}
	dumpAborts.Delete(v)
	d.setJobPhase(v, phase)
	err = d.coreDump(ctx, v, mon, path, flags, format)
	if err == nil {
		paused = true // a migration to file leaves the guest stopped
	}
	switch {
	case err == nil && flags&dumpCrash != 0:
		if nerr := v.nested(ctx); nerr != nil {
			return nerr
		}
		defer v.job.end()
		v.mu.Lock()
		v.beingDestroyed = true
		proc := v.proc
		v.mu.Unlock()
		if proc != nil && stillOurs() {
			proc.kill(killGrace)
			d.cleanupStopped(v, driver.ShutoffCrashed)
			d.emit(v, driver.EventStopped, driver.EventStoppedCrashed)
			d.dropIfTransient(v)
		}
	case ((resume && paused) || flags&dumpReset != 0) && stillOurs():
		if err == nil && flags&dumpReset != 0 {
			if rerr := qmp.SystemReset(ctx, mon); rerr != nil {
				err = qmpError(rerr)
			}
		}
		if resume && stillOurs() {
			if rerr := d.startCPUs(ctx, v, driver.RunningUnpaused); rerr != nil {
				d.emit(v, driver.EventSuspended, driver.EventSuspendedAPIError)
				if err == nil {
					err = errQEMU(virerr.ErrOperationFailed, "resuming after dump failed")
				}
			}
		}
	}
	return err
}

// coreDump is libvirt's doCoreDump: the file is created by the daemon
// and passed to QEMU; one the dump created is removed when it fails.
func (d *Driver) coreDump(ctx context.Context, v *vm, mon monitor, path string, flags, format uint32) error {
	if int(format) >= len(dumpFormats) {
		return errQEMU(virerr.ErrInvalidArg, "unknown dumpformat '%d'", format)
	}
	fm, ok := mon.(fdMonitor)
	if !ok {
		return errQEMU(virerr.ErrOperationUnsupported, "monitor cannot pass descriptors")
	}
	_, statErr := os.Lstat(path)
	created := os.IsNotExist(statErr)
	runCtx, _ := v.runContext()
	f, err := openDumpFile(runCtx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	done := false
	defer func() {
		if !done && created {
			os.Remove(path)
		}
	}()
	if flags&dumpMemoryOnly != 0 {
		if err := memoryDump(ctx, mon, fm, f, dumpFormats[format]); err != nil {
			return err
		}
	} else {
		if format != 0 {
			return errQEMU(virerr.ErrOperationUnsupported, "kdump-compressed format is only supported with memory-only dump")
		}
		if err := qmp.Getfd(ctx, fm, "govirt-dump", f); err != nil {
			return qmpFailed("passing the dump file", err)
		}
		if err := qmp.Migrate(ctx, mon, "fd:govirt-dump"); err != nil {
			return qmpError(err)
		}
		if err := waitDumpMigration(ctx, v, mon); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return errQEMU(virerr.ErrSystemError, "unable to close file %s: %v", path, err)
	}
	done = true
	return nil
}

// openDumpFile creates the dump file with libvirt's error.
func openDumpFile(runCtx context.Context, path string) (*os.File, error) {
	return createFileCtx(runCtx, path, func(err error) error {
		return errQEMU(virerr.ErrSystemError, "Failed to create file '%s': %s", path, errnoText(err))
	})
}

// dumpStatus is query-dump's reply.
type dumpStatus struct {
	Status    string `json:"status"`
	Completed uint64 `json:"completed"`
	Total     uint64 `json:"total"`
}

func queryDump(ctx context.Context, mon monitor) (dumpStatus, error) {
	var st dumpStatus
	err := mon.Execute(ctx, "query-dump", nil, &st)
	return st, err
}

// memoryDump runs dump-guest-memory detached and waits for it, as
// libvirt's qemuDumpToFd and qemuDumpWaitForCompletion.
func memoryDump(ctx context.Context, mon monitor, fm fdMonitor, f *os.File, format string) error {
	args := map[string]any{"paging": false, "protocol": "fd:govirt-dump", "detach": true}
	if format != "elf" {
		var capab struct {
			Formats []string `json:"formats"`
		}
		if err := mon.Execute(ctx, "query-dump-guest-memory-capability", nil, &capab); err != nil || !slices.Contains(capab.Formats, format) {
			return errQEMU(virerr.ErrInvalidArg, "unsupported dumpformat '%s' for this QEMU binary", format)
		}
		args["format"] = format
	}
	if err := qmp.Getfd(ctx, fm, "govirt-dump", f); err != nil {
		return qmpFailed("passing the dump file", err)
	}
	if err := mon.Execute(ctx, "dump-guest-memory", args, nil); err != nil {
		return qmpError(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	for {
		st, err := queryDump(wctx, mon)
		if err != nil {
			return qmpFailed("query-dump", err)
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed":
			return errQEMU(virerr.ErrOperationFailed, "memory-only dump failed for unknown reason")
		}
		select {
		case <-wctx.Done():
			return errQEMU(virerr.ErrOperationTimeout, "dumping the guest did not finish")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dumpAborts are the guests whose dump domjobabort cancelled (libvirt's
// job abortJob flag): QEMU may end a cancelled stream to a descriptor as
// failed rather than cancelled.
var dumpAborts sync.Map // *vm -> struct{}

func markDumpAborted(v *vm) { dumpAborts.Store(v, struct{}{}) }

// waitDumpMigration is waitMigration with libvirt's error for a dump
// that domjobabort cancelled.
func waitDumpMigration(ctx context.Context, v *vm, mon monitor) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	err := qmp.WaitMigration(wctx, mon, nil, 20*time.Millisecond)
	_, aborted := dumpAborts.LoadAndDelete(v)
	var me *qmp.MigrationError
	if errors.As(err, &me) && (me.Status == "cancelled" || aborted) {
		return errQEMU(virerr.ErrOperationAborted, "job 'domain core dump' canceled by client")
	}
	if err != nil {
		return waitMigrationErr(ctx, err)
	}
	return nil
}

// phaseMemoryDump is the dump job's phase while QEMU writes a
// memory-only dump, which cannot be aborted.
const phaseMemoryDump = "dumping memory"

// memoryDumpJobInfo fills domjobinfo from query-dump's progress.
func memoryDumpJobInfo(mon monitor, info driver.JobInfo) driver.JobInfo {
	if mon == nil {
		return info
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if st, err := queryDump(ctx, mon); err == nil && st.Total > 0 {
		info.DataTotal, info.DataProcessed = st.Total, st.Completed
		if st.Total >= st.Completed {
			info.DataRemaining = st.Total - st.Completed
		}
	}
	return info
}
