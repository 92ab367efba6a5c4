package qemu

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"govirt/driver"
	"govirt/virerr"
)

// migrationMon plays QEMU: migrate stops the guest and reports status.
func migrationMon(d **Driver, v **vm, status string) *fakeMonitor {
	mon := &fakeMonitor{}
	mon.after = func(cmd string) {
		if cmd != "migrate" {
			return
		}
		if status == "completed" {
			(*d).handleEvent(*v, "STOP", nil)
		}
		(*d).handleEvent(*v, "MIGRATION", json.RawMessage(`{"status":"`+status+`"}`))
	}
	return mon
}

func jobHeld(v *vm) bool {
	v.job.mu.Lock()
	defer v.job.mu.Unlock()
	return v.job.active != jobNone || v.job.async != asyncNone
}

func hasCmd(mon *fakeMonitor, cmd string) bool {
	for _, c := range mon.commands() {
		if c == cmd {
			return true
		}
	}
	return false
}

func TestMigrateSourceSuccess(t *testing.T) {
	var d *Driver
	var v *vm
	mon := migrationMon(&d, &v, "completed")
	d, v, ch := runningVM(t, mon, "")
	c := &conn{d: d}
	h := v.handle()
	xml, cookie, err := c.DomainMigrateBegin3(h, nil, migrateLive|migratePersistDest)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(xml, "<name>ev</name>") || !strings.Contains(string(cookie), "<qemu-migration>") {
		t.Fatalf("begin: %s / %s", xml, cookie)
	}
	if !jobHeld(v) {
		t.Fatal("begin released the job")
	}
	// The phase is in the status for a restarted daemon.
	for _, st := range d.readStatuses() {
		if st.Migration == nil || st.Migration.Phase != phaseBegin || st.Migration.Incoming {
			t.Errorf("status migration %+v", st.Migration)
		}
	}
	params := []driver.TypedParam{{Field: migParamURI, Value: "tcp:127.0.0.1:49152"}}
	out, err := c.DomainMigratePerform3(h, "", params, cookie, migrateLive|migratePersistDest)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := parseCookie(out)
	if err != nil || ck.PersistentXML == "" || !strings.Contains(ck.PersistentXML, "<name>ev</name>") {
		t.Fatalf("perform cookie %q: %v", out, err)
	}
	for _, cmd := range []string{"migrate-set-capabilities", "migrate-set-parameters", "migrate"} {
		if !hasCmd(mon, cmd) {
			t.Errorf("no %s in %v", cmd, mon.commands())
		}
	}
	if s, r := state(v); s != driver.StatePaused || r != driver.PausedMigration {
		t.Errorf("after perform: %v/%d", s, r)
	}
	wantLifecycle(t, ch, driver.EventSuspended, driver.EventSuspendedMigrated)
	if err := c.DomainMigrateConfirm3(h, nil, nil, migrateLive|migrateUndefineSource, false); err != nil {
		t.Fatal(err)
	}
	wantLifecycle(t, ch, driver.EventStopped, driver.EventStoppedMigrated)
	wantLifecycle(t, ch, driver.EventUndefined, driver.EventUndefinedRemoved)
	if jobHeld(v) || d.doms.byNameLookup("ev") != nil {
		t.Errorf("confirm left the job or the guest")
	}
}

func TestMigratePerformFailureResumes(t *testing.T) {
	var d *Driver
	var v *vm
	mon := migrationMon(&d, &v, "failed")
	d, v, _ = runningVM(t, mon, "")
	c := &conn{d: d}
	h := v.handle()
	if _, _, err := c.DomainMigrateBegin3(h, nil, migrateLive); err != nil {
		t.Fatal(err)
	}
	_, err := c.DomainMigratePerform3(h, "", []driver.TypedParam{{Field: migParamURI, Value: "tcp://host:1"}}, nil, migrateLive)
	if virerr.CodeOf(err) != virerr.ErrOperationFailed {
		t.Fatalf("perform: %v", err)
	}
	if jobHeld(v) || v.mig != nil {
		t.Error("a failed perform kept the migration job")
	}
	// The fake QEMU says it is not running: the guest is resumed.
	if !hasCmd(mon, "cont") {
		t.Errorf("guest not resumed: %v", mon.commands())
	}
}

func TestMigrateAbortBeforePerform(t *testing.T) {
	mon := &fakeMonitor{}
	d, v, _ := runningVM(t, mon, "")
	c := &conn{d: d}
	h := v.handle()
	if _, _, err := c.DomainMigrateBegin3(h, nil, migrateLive); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainAbortJob(h); err != nil {
		t.Fatal(err)
	}
	_, err := c.DomainMigratePerform3(h, "", []driver.TypedParam{{Field: migParamURI, Value: "tcp:h:1"}}, nil, migrateLive)
	if virerr.CodeOf(err) != virerr.ErrOperationAborted || hasCmd(mon, "migrate") {
		t.Fatalf("perform after abort: %v, %v", err, mon.commands())
	}
}

func TestMigrateRefusals(t *testing.T) {
	d, v, _ := runningVM(t, &fakeMonitor{}, "")
	c := &conn{d: d}
	h := v.handle()
	// A resume of a guest whose post-copy migration did not fail, with
	// libvirt's qemuMigrationAnyCanResume errors in its order.
	for _, c2 := range []struct {
		flags uint32
		code  virerr.Code
		msg   string
	}{
		{migratePostcopyResume, virerr.ErrArgumentUnsupported, "requires post-copy to be enabled"},
		{migratePostcopyResume | migratePostcopy, virerr.ErrArgumentUnsupported, "requires change protection"},
		{migratePostcopyResume | migratePostcopy | migrateChangeProtection, virerr.ErrOperationInvalid, "is not being migrated"},
	} {
		_, _, err := c.DomainMigrateBegin3(h, nil, c2.flags)
		if virerr.CodeOf(err) != c2.code || err == nil || !strings.Contains(err.Error(), c2.msg) {
			t.Errorf("flags %#x: %v, want %q", c2.flags, err, c2.msg)
		}
	}
	if _, _, err := c.DomainMigrateBegin3(h, nil, migrateNonSharedDisk|migrateNonSharedInc); virerr.CodeOf(err) != virerr.ErrOperationInvalid {
		t.Errorf("both storage copy flags: %v", err)
	}
	// Peer to peer needs the destination's URI.
	if _, err := c.DomainMigratePerform3(h, "", nil, nil, migratePeer2Peer); virerr.CodeOf(err) != virerr.ErrInvalidArg {
		t.Errorf("p2p without a URI: %v", err)
	}
	// As libvirt's: the connection's own system error.
	if _, err := c.DomainMigratePerform3(h, "qemu+unix:///system?socket=/nonexistent", nil, nil, migratePeer2Peer); virerr.CodeOf(err) != virerr.ErrSystemError {
		t.Errorf("p2p to nowhere: %v", err)
	}
	if jobHeld(v) {
		t.Fatal("a refused begin kept the job")
	}
	// Perform and Confirm need Begin first.
	if _, err := c.DomainMigratePerform3(h, "", nil, nil, 0); virerr.CodeOf(err) != virerr.ErrOperationInvalid {
		t.Errorf("perform without begin: %v", err)
	}
	if _, _, err := c.DomainMigratePrepare3(nil, nil, 0); virerr.CodeOf(err) != virerr.ErrInvalidArg {
		t.Errorf("prepare without XML: %v", err)
	}
	if !c.SupportsFeature(featureMigrationV3) || !c.SupportsFeature(featureMigrationParams) || !c.SupportsFeature(featureMigrationP2P) || !c.SupportsFeature(featureMigrationOffline) {
		t.Error("features")
	}
}

func TestMigrateConnClosedUndoes(t *testing.T) {
	mon := &fakeMonitor{}
	d, v, _ := runningVM(t, mon, "")
	c := &conn{d: d}
	if _, _, err := c.DomainMigrateBegin3(v.handle(), nil, migrateLive); err != nil {
		t.Fatal(err)
	}
	(&conn{d: d}).Close() // another client: nothing happens
	if !jobHeld(v) {
		t.Fatal("another connection's close ended the migration")
	}
	c.Close()
	if jobHeld(v) || v.mig != nil {
		t.Fatal("closing the driving connection left the migration")
	}
	done := make(chan error, 1)
	go func() { done <- v.job.acquire("test") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		v.job.release()
	case <-time.After(5 * time.Second):
		t.Fatal("job still held")
	}
}

func TestQEMUMigrateURI(t *testing.T) {
	for in, want := range map[string]string{
		"tcp:host:49152":     "tcp:host:49152",
		"tcp://host:49153":   "tcp:host:49153",
		"tcp:[::1]:49154":    "tcp:[::1]:49154",
		"tcp://1.2.3.4:5/x":  "",
		"unix:/tmp/sock":     "",
		"tcp:hostwithnoport": "",
		"tcp:[::1]":          "",
		"tcp://a/b":          "",
	} {
		got, err := qemuMigrateURI(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%s: %q, %v", in, got, err)
		}
	}
}

// A destination that fails in Finish leaves the source to run the guest
// again when Confirm says the migration was cancelled.
func TestMigrateConfirmCancelledResumes(t *testing.T) {
	var d *Driver
	var v *vm
	mon := migrationMon(&d, &v, "completed")
	d, v, ch := runningVM(t, mon, "")
	c := &conn{d: d}
	h := v.handle()
	if _, _, err := c.DomainMigrateBegin3(h, nil, migrateLive); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DomainMigratePerform3(h, "", []driver.TypedParam{{Field: migParamURI, Value: "tcp:h:1"}}, nil, migrateLive); err != nil {
		t.Fatal(err)
	}
	wantLifecycle(t, ch, driver.EventSuspended, driver.EventSuspendedMigrated)
	if err := c.DomainMigrateConfirm3(h, nil, nil, migrateLive, true); err != nil {
		t.Fatal(err)
	}
	if s, r := state(v); s != driver.StateRunning || r != driver.RunningMigrationCanceled {
		t.Errorf("after a cancelled confirm: %v/%d", s, r)
	}
	if jobHeld(v) || v.mig != nil {
		t.Error("confirm kept the migration job")
	}
}

func TestParseMigrateURI(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://127.0.0.1":   "127.0.0.1 0",
		"tcp:host":          "host 0",
		"tcp://[::1]":       "::1 0",
		"tcp://[::1]:49160": "::1 49160",
		"tcp:host:0x10":     "error",
		"rdma://host":       "error",
	} {
		h, p, err := parseMigrateURI(in)
		got := fmt.Sprintf("%s %d", h, p)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

// A client that closes its connection during Perform gets the migration
// undone when Perform ends: the source runs the guest again.
func TestMigrateConnClosedDuringPerform(t *testing.T) {
	var d *Driver
	var v *vm
	var c *conn
	mon := migrationMon(&d, &v, "completed")
	inner := mon.after
	mon.after = func(cmd string) {
		if cmd == "migrate" {
			c.Close()
		}
		inner(cmd)
	}
	d, v, _ = runningVM(t, mon, "")
	c = &conn{d: d}
	h := v.handle()
	if _, _, err := c.DomainMigrateBegin3(h, nil, migrateLive); err != nil {
		t.Fatal(err)
	}
	_, err := c.DomainMigratePerform3(h, "", []driver.TypedParam{{Field: migParamURI, Value: "tcp:h:1"}}, nil, migrateLive)
	if virerr.CodeOf(err) != virerr.ErrOperationAborted {
		t.Fatalf("perform of a closed client: %v", err)
	}
	if jobHeld(v) || v.mig != nil || !hasCmd(mon, "cont") {
		t.Fatalf("migration not undone: job %v, commands %v", jobHeld(v), mon.commands())
	}
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	if c.stepsActive != 0 || c.stepsClosed {
		t.Errorf("step bookkeeping left: %v %v", c.stepsActive, c.stepsClosed)
	}
}
