package qemu

import (
	"context"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// asyncJob is a long operation (save, later migration) that queries and
// abort may run alongside; it holds the guest's job meanwhile.
type asyncJob struct {
	op      string
	started time.Time
}

// beginAsync records op as the guest's async job; the caller holds the job.
func (v *vm) beginAsync(op string) {
	v.mu.Lock()
	v.async = &asyncJob{op: op, started: time.Now()}
	v.mu.Unlock()
}

func (v *vm) endAsync() {
	v.mu.Lock()
	v.async = nil
	v.mu.Unlock()
}

func (c *conn) asyncOf(h driver.Domain) (*asyncJob, monitor, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.active() {
		return nil, nil, errNotRunning()
	}
	return v.async, v.mon, nil
}

func (c *conn) DomainGetJobInfo(h driver.Domain) (driver.JobInfo, error) {
	j, mon, err := c.asyncOf(h)
	if err != nil || j == nil {
		return driver.JobInfo{}, err
	}
	info := driver.JobInfo{Type: 2, TimeElapsed: uint64(time.Since(j.started).Milliseconds())}
	// query-migrate never waits on a job; a stuck monitor only costs its
	// own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if st, err := queryMigrate(ctx, mon); err == nil {
		info.DataTotal, info.DataProcessed, info.DataRemaining = st.RAM.Total, st.RAM.Transferred, st.RAM.Remaining
	}
	return info, nil
}

func (c *conn) DomainGetJobStats(h driver.Domain, _ uint32) (int32, []driver.TypedParam, error) {
	info, err := c.DomainGetJobInfo(h)
	if err != nil || info.Type == 0 {
		return 0, nil, err
	}
	params := []driver.TypedParam{{Field: "time_elapsed", Value: info.TimeElapsed}}
	if info.DataTotal > 0 { // known once QEMU moves data, as in libvirt
		params = append(params,
			driver.TypedParam{Field: "data_total", Value: info.DataTotal},
			driver.TypedParam{Field: "data_processed", Value: info.DataProcessed},
			driver.TypedParam{Field: "data_remaining", Value: info.DataRemaining})
	}
	if j, _, err := c.asyncOf(h); err == nil && j != nil {
		params = append(params, driver.TypedParam{Field: "operation", Value: jobOperation(j.op)})
	}
	return info.Type, params, nil
}

// jobOperation is virDomainJobOperation for an async job's name.
func jobOperation(op string) int32 {
	switch op {
	case "save":
		return 2
	case "migration in":
		return 4
	case "migration out":
		return 5
	}
	return 0
}

// DomainAbortJob cancels a running save without taking the job (the save
// holds it); the save then fails and resumes the guest.
func (c *conn) DomainAbortJob(h driver.Domain) error {
	if v, err := c.d.doms.get(h); err == nil {
		if done, err := abortMigration(v); done {
			return err
		}
	}
	j, mon, err := c.asyncOf(h)
	if err != nil {
		return err
	}
	if j == nil {
		return errQEMU(virerr.ErrOperationInvalid, "no job is active on the domain")
	}
	if err := qmp.MigrateCancel(context.Background(), mon); err != nil {
		return qmpFailed("abort", err)
	}
	return nil
}
