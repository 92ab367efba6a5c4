package qemu

import (
	"context"
	"time"

	"govirt/driver"
	"govirt/virerr"
)

// VIR_DOMAIN_ABORT_JOB_POSTCOPY.
const abortJobPostcopy = 1 << 0

// DomainAbortJobFlags is virDomainAbortJobFlags (virsh domjobabort
// [--postcopy]), as libvirt's qemuDomainAbortJobFlags: without flags it
// is domjobabort; --postcopy pauses an outgoing migration in post-copy
// (QEMU's migrate-pause), which leaves both sides in their post-copy
// failed states, waiting for a resume on another link
// (migrate_resume.go).
func (c *conn) DomainAbortJobFlags(h driver.Domain, flags uint32) error {
	if flags&^abortJobPostcopy != 0 {
		return errFlagsFn(flags&^abortJobPostcopy, "qemuDomainAbortJobFlags")
	}
	if flags == 0 {
		return c.DomainAbortJob(h)
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	active, mon := v.active(), v.mon
	postcopy, _ := postcopyStates(v)
	v.mu.Unlock()
	if !active || mon == nil {
		return errNotRunning()
	}
	if k, _, _, _ := v.job.asyncInfo(); k != asyncMigrationOut || !postcopy {
		return errQEMU(virerr.ErrOperationInvalid, "%s", "current job is not outgoing migration in post-copy mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := mon.Execute(ctx, "migrate-pause", nil, nil); err != nil {
		return qmpFailed("migrate-pause", err)
	}
	return nil
}
