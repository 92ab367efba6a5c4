package qemu

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// resumeMon is a fake monitor whose query-migrate answers status.
type resumeMon struct {
	*fakeMonitor
	mu     sync.Mutex
	status string
}

func (r *resumeMon) Execute(ctx context.Context, cmd string, args, ret any) error {
	if cmd == "query-migrate" && ret != nil {
		r.mu.Lock()
		st := r.status
		r.mu.Unlock()
		_ = json.Unmarshal([]byte(`{"status":"`+st+`"}`), ret)
	}
	return r.fakeMonitor.Execute(ctx, cmd, args, ret)
}

func (r *resumeMon) set(status string) {
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
}

// parkedSource makes a guest whose outgoing post-copy migration failed.
func parkedSource(t *testing.T) (*Driver, *vm, *resumeMon) {
	t.Helper()
	fm := &fakeMonitor{}
	d, v, _ := runningVM(t, fm, "")
	rm := &resumeMon{fakeMonitor: fm, status: "postcopy-paused"}
	if err := v.beginMigrationJob(context.Background(), asyncMigrationOut, "test"); err != nil {
		t.Fatal(err)
	}
	m := newMigration(false, migrateLive|migratePostcopy, nil)
	m.Postcopy, m.Phase, m.busy = true, phasePerformed, true
	v.mu.Lock()
	v.mon, v.mig = rm, m
	v.setState(driver.StatePaused, driver.PausedPostcopy)
	v.mu.Unlock()
	d.endOrPark(v, m)
	return d, v, rm
}

func stateOf(v *vm) (driver.State, int32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state, v.reason
}

// TestResumeSourceSteps: a failed post-copy migration keeps its async
// job with no sync job and no owner, in paused (post-copy failed); the
// resume's Begin, Perform and Confirm take it up in order, with
// libvirt's refusals of a step out of turn, and Confirm stops the guest.
func TestResumeSourceSteps(t *testing.T) {
	d, v, rm := parkedSource(t)
	c := &conn{d: d}
	h := v.handle()
	if s, r := stateOf(v); s != driver.StatePaused || r != driver.PausedPostcopyFailed {
		t.Fatalf("state %d/%d", s, r)
	}
	if k, owner, _, _ := v.job.asyncInfo(); k != asyncMigrationOut || owner != "" || v.job.active != jobNone {
		t.Fatalf("parked job %v %q sync %v", k, owner, v.job.active)
	}
	flags := uint32(migrateLive | migratePostcopy | migratePostcopyResume | migrateChangeProtection)
	// Neither a second migration nor an abort of this one.
	if _, _, err := c.DomainMigrateBegin3(h, nil, migrateLive|migrateChangeProtection); err == nil ||
		!strings.Contains(err.Error(), "another migration job is already running") {
		t.Errorf("new migration of a parked guest: %v", err)
	}
	if err := c.DomainAbortJob(h); err == nil || !strings.Contains(err.Error(), "cannot abort migration in post-copy mode") {
		t.Errorf("abort: %v", err)
	}
	rm.set("postcopy-active")
	if _, _, err := c.DomainMigrateBegin3(h, nil, flags); err == nil || !strings.Contains(err.Error(), "QEMU reports migration is still running") {
		t.Errorf("begin while QEMU migrates: %v", err)
	}
	rm.set("postcopy-paused")
	xml, cookie, err := c.DomainMigrateBegin3(h, nil, flags)
	if err != nil || !strings.Contains(xml, "<name>ev</name>") {
		t.Fatalf("begin: %v %s", err, xml)
	}
	if _, _, err := c.DomainMigrateBegin3(h, nil, flags); err == nil || !strings.Contains(err.Error(), "already in progress") {
		t.Errorf("second begin: %v", err)
	}
	params := []driver.TypedParam{{Field: migParamURI, Value: "tcp:127.0.0.1:49152"}}
	if _, err := c.DomainMigratePerform3(h, "", params, cookie, flags); err != nil {
		t.Fatal(err)
	}
	if !hasCmd(rm.fakeMonitor, "migrate") {
		t.Errorf("no migrate in %v", rm.commands())
	}
	// QEMU reconnects: paused (post-copy) again.
	d.onMigrationStatus(v, &qmp.MigrationEvent{Status: "postcopy-recover"})
	if s, r := stateOf(v); s != driver.StatePaused || r != driver.PausedPostcopy {
		t.Errorf("state after postcopy-recover %d/%d", s, r)
	}
	if _, err := c.DomainMigratePerform3(h, "", params, cookie, flags); err == nil || !strings.Contains(err.Error(), "already in progress") {
		t.Errorf("second perform: %v", err)
	}
	rm.set("completed")
	if err := c.DomainMigrateConfirm3(h, nil, nil, flags, false); err != nil {
		t.Fatal(err)
	}
	if s, r := stateOf(v); s != driver.StateShutoff || r != driver.ShutoffMigrated {
		t.Errorf("state after confirm %d/%d", s, r)
	}
	if jobHeld(v) {
		t.Error("job kept after the resume")
	}
}

// TestResumeCancelledAndDestroyed: a cancelled resume parks the
// migration again (paused, post-copy failed), and destroying the guest
// drops the parked job.
func TestResumeCancelledAndDestroyed(t *testing.T) {
	d, v, _ := parkedSource(t)
	c := &conn{d: d}
	h := v.handle()
	flags := uint32(migrateLive | migratePostcopy | migratePostcopyResume | migrateChangeProtection)
	if _, _, err := c.DomainMigrateBegin3(h, nil, flags); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainMigrateConfirm3(h, nil, nil, flags, true); err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	m := v.mig
	v.mu.Unlock()
	if m == nil || m.Phase != phasePostcopyFailed || m.busy {
		t.Fatalf("after a cancelled resume: %+v", m)
	}
	if _, _, err := c.DomainMigrateBegin3(h, nil, flags); err != nil {
		t.Fatalf("begin after a cancelled resume: %v", err)
	}
	// Destroy does not wait for a resume that never comes.
	if err := c.DomainDestroy(h, 0); err != nil {
		t.Fatal(err)
	}
	if jobHeld(v) {
		t.Error("destroy left the parked job")
	}
	// A destination-side resume of a guest with no migration.
	if _, _, err := c.DomainMigrateFinish3([]driver.TypedParam{{Field: migParamDestName, Value: "ev"}}, nil, flags, false); virerr.CodeOf(err) != virerr.ErrOperationInvalid {
		t.Errorf("finish resume without a migration: %v", err)
	}
}

// TestAbortJobPostcopy: domjobabort --postcopy pauses an outgoing
// migration in post-copy (migrate-pause) and is refused otherwise.
func TestAbortJobPostcopy(t *testing.T) {
	fm := &fakeMonitor{}
	d, v, _ := runningVM(t, fm, "")
	c := &conn{d: d}
	h := v.handle()
	if err := c.DomainAbortJobFlags(h, abortJobPostcopy); err == nil || !strings.Contains(err.Error(), "current job is not outgoing migration in post-copy mode") {
		t.Errorf("without a migration: %v", err)
	}
	if err := c.DomainAbortJobFlags(h, 2); virerr.CodeOf(err) != virerr.ErrInvalidArg {
		t.Errorf("unknown flag: %v", err)
	}
	if err := v.beginMigrationJob(context.Background(), asyncMigrationOut, "test"); err != nil {
		t.Fatal(err)
	}
	m := newMigration(false, migrateLive|migratePostcopy, nil)
	m.Postcopy, m.Phase = true, phasePerformed
	v.mu.Lock()
	v.mig = m
	v.setState(driver.StatePaused, driver.PausedPostcopy)
	v.mu.Unlock()
	if err := c.DomainAbortJobFlags(h, abortJobPostcopy); err != nil || !hasCmd(fm, "migrate-pause") {
		t.Errorf("in post-copy: %v %v", err, fm.commands())
	}
	if err := c.DomainAbortJobFlags(h, 0); err == nil || !strings.Contains(err.Error(), "cannot abort migration in post-copy mode") {
		t.Errorf("plain abort in post-copy: %v", err)
	}
}
