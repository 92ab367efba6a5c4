package test

import (
	"os"
	"path/filepath"
	"testing"

	"govirt/driver"
	"govirt/virerr"
)

func TestLifecycleTable(t *testing.T) {
	c := openDefault(t)
	d := mustDom(t, c, "test")
	steps := []struct {
		name   string
		do     func() error
		state  driver.State
		reason int32
	}{
		{"suspend", func() error { return c.DomainSuspend(d) }, driver.StatePaused, driver.PausedUser},
		{"resume", func() error { return c.DomainResume(d) }, driver.StateRunning, driver.RunningUnpaused},
		{"reboot", func() error { return c.DomainReboot(d, 0) }, driver.StateRunning, driver.RunningBooted},
		{"reset", func() error { return c.DomainReset(d, 0) }, driver.StateRunning, driver.RunningBooted},
		{"shutdown", func() error { return c.DomainShutdown(d, 0) }, driver.StateShutoff, driver.ShutoffShutdown},
		{"start", func() error { var err error; d, err = c.DomainCreate(d, 0); return err }, driver.StateRunning, driver.RunningBooted},
		{"destroy", func() error { return c.DomainDestroy(d, 0) }, driver.StateShutoff, driver.ShutoffDestroyed},
		{"start", func() error { var err error; d, err = c.DomainCreate(d, 0); return err }, driver.StateRunning, driver.RunningBooted},
		{"managedsave", func() error { return c.DomainManagedSave(d, 0) }, driver.StateShutoff, driver.ShutoffSaved},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		wantState(t, c, d, s.state, s.reason)
	}
	if d.ID != 3 {
		t.Fatalf("second start got id %d, want 3", d.ID)
	}
	if ms, _ := c.DomainHasManagedSaveImage(d, 0); !ms {
		t.Fatal("no managed save image")
	}
	d, _ = c.DomainCreate(d, 0)
	if ms, _ := c.DomainHasManagedSaveImage(d, 0); ms {
		t.Fatal("managed save image survives start")
	}
}

func TestInvalidTransitions(t *testing.T) {
	c := openDefault(t)
	d := mustDom(t, c, "test")
	wantErr(t, c.DomainResume(d), virerr.ErrInternalError, virerr.FromTest, "internal error: domain 'test' not paused")
	_, err := c.DomainCreate(d, 0)
	wantErr(t, err, virerr.ErrInternalError, virerr.FromTest, "internal error: Domain 'test' is already running")
	wantErr(t, c.DomainSetMaxMemory(d, 100000), virerr.ErrOperationInvalid, virerr.FromTest,
		"Requested operation is not valid: cannot resize the maximum memory on an active domain")
	wantErr(t, c.DomainSetMemoryFlags(d, 99999999, 0), virerr.ErrInvalidArg, virerr.FromTest,
		"invalid argument: cannot set memory higher than max memory")
	wantErr(t, c.DomainSetVcpusFlags(d, 40, 0), virerr.ErrInvalidArg, virerr.FromTest,
		"invalid argument: requested cpu amount exceeds maximum supported amount (40 > 32)")
	wantErr(t, c.DomainSetVcpusFlags(d, 3, 0), virerr.ErrInvalidArg, virerr.FromTest,
		"invalid argument: requested cpu amount exceeds maximum (3 > 2)")
	_, err = c.DomainBlockStats(d, "vdz")
	wantErr(t, err, virerr.ErrInvalidArg, virerr.FromTest, "invalid argument: invalid path: vdz")
	_, err = c.DomainInterfaceStats(d, "vnet0")
	wantErr(t, err, virerr.ErrInvalidArg, virerr.FromDomain, "invalid argument: 'vnet0' is not a known interface")
	if _, err := c.DomainInterfaceStats(d, "AA:BB:CC:DD:EE:FF"); err != nil {
		t.Fatal(err)
	}
	_, err = c.DomainBlockStatsFlags(d, "vda", 0)
	wantErr(t, err, virerr.ErrNoSupport, virerr.FromDomain, "this function is not supported by the connection driver: virDomainBlockStatsFlags")
	_, err = c.DomainSnapshotCurrent(d, 0)
	wantErr(t, err, virerr.ErrNoDomainSnapshot, virerr.FromTest, "Domain snapshot not found: the domain does not have a current snapshot")

	if err := c.DomainShutdown(d, 0); err != nil {
		t.Fatal(err)
	}
	notRunning := func(err error) {
		t.Helper()
		wantErr(t, err, virerr.ErrOperationInvalid, virerr.FromDomain, "Requested operation is not valid: domain is not running")
	}
	notRunning(c.DomainDestroy(d, 0))
	notRunning(c.DomainReboot(d, 0))
	notRunning(c.DomainReset(d, 0))
	notRunning(c.DomainManagedSave(d, 0))
	notRunning(c.DomainSave(d, "/nonexistent", "", 0))
	notRunning(c.DomainSetMemoryFlags(d, 1000, affectLive))
	_, err = c.DomainMemoryStats(d, 13, 0)
	notRunning(err)
	_, err = c.DomainBlockStats(d, "vda")
	notRunning(err)
	wantErr(t, c.DomainShutdown(d, 0), virerr.ErrInternalError, virerr.FromTest, "internal error: domain 'test' not running")
	wantErr(t, c.DomainSuspend(d), virerr.ErrInternalError, virerr.FromTest, "internal error: domain 'test' not running")
	_, _, err = c.DomainGetVcpus(d, 2, 1)
	wantErr(t, err, virerr.ErrOperationInvalid, virerr.FromTest, "Requested operation is not valid: cannot list vcpus for an inactive domain")
	wantErr(t, c.DomainSetMemoryFlags(d, 1000, affectLive|affectConfig), virerr.ErrInvalidArg, virerr.FromDomain,
		"Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
	if l, _ := c.DomainGetSecurityLabel(d); l != (driver.SecurityLabel{}) {
		t.Fatalf("inactive label %+v", l)
	}

	_, err = c.LookupDomainByName("nosuch")
	wantErr(t, err, virerr.ErrNoDomain, virerr.FromTest, "Domain not found")
	_, err = c.LookupDomainByID(99)
	wantErr(t, err, virerr.ErrNoDomain, virerr.FromTest, "Domain not found")
	gone := driver.Domain{Name: "gone", UUID: d.UUID}
	gone.UUID[0]++
	_, err = c.DomainGetInfo(gone)
	wantErr(t, err, virerr.ErrNoDomain, virerr.FromTest, "Domain not found: no domain with matching uuid '"+gone.UUID.String()+"' (gone)")
}

func TestDefineStartUndefine(t *testing.T) {
	c := openDefault(t)
	rec := record(t, c)
	d, err := c.DomainDefineXML(demoXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != -1 {
		t.Fatalf("defined domain has id %d", d.ID)
	}
	wantState(t, c, d, driver.StateShutoff, driver.ShutoffUnknown)
	if _, err := c.DomainDefineXML(demoXML, 0); err != nil {
		t.Fatal(err)
	}
	d, err = c.DomainCreate(d, 0)
	if err != nil || d.ID != 2 {
		t.Fatalf("start: %v id %d", err, d.ID)
	}
	// Live changes stay live; the config comes back at shutdown.
	if err := c.DomainSetMemoryFlags(d, 524288, affectLive); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainUndefine(d, 0); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.DomainIsPersistent(d); p {
		t.Fatal("undefined running domain still persistent")
	}
	if err := c.DomainDestroy(d, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LookupDomainByName("demo"); err == nil {
		t.Fatal("transient domain survives destroy")
	}
	other := `<domain type='test'><name>test</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory><os><type>hvm</type></os></domain>`
	_, err = c.DomainDefineXML(other, 0)
	wantErr(t, err, virerr.ErrOperationFailed, virerr.FromDomain,
		"operation failed: domain 'test' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f")

	evs := rec.wait(t, 5)
	want := []struct{ ev, detail int32 }{
		{driver.EventDefined, driver.EventDefinedAdded},
		{driver.EventDefined, driver.EventDefinedUpdated},
		{driver.EventStarted, driver.EventStartedBooted},
		{driver.EventUndefined, driver.EventUndefinedRemoved},
		{driver.EventStopped, driver.EventStoppedDestroyed},
	}
	for i, w := range want {
		e := evs[i].(driver.DomainEvent)
		if e.ID != driver.EventIDLifecycle || e.Event != w.ev || e.Detail != w.detail || e.Dom.Name != "demo" {
			t.Fatalf("event %d: %+v, want %+v", i, e, w)
		}
	}
}

func TestCreateXMLTransient(t *testing.T) {
	c := openDefault(t)
	d, err := c.DomainCreateXML(demoXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != 2 {
		t.Fatalf("id %d", d.ID)
	}
	wantState(t, c, d, driver.StateRunning, driver.RunningBooted)
	if p, _ := c.DomainIsPersistent(d); p {
		t.Fatal("createXML domain is persistent")
	}
	_, err = c.DomainCreateXML(demoXML, 0)
	wantErr(t, err, virerr.ErrOperationInvalid, virerr.FromDomain, "Requested operation is not valid: domain 'demo' is already active")
	wantErr(t, c.DomainManagedSave(d, 0), virerr.ErrOperationInvalid, virerr.FromTest,
		"Requested operation is not valid: cannot do managed save for transient domain")
	if err := c.DomainShutdown(d, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LookupDomainByName("demo"); err == nil {
		t.Fatal("transient domain survives shutdown")
	}
}

func TestSaveRestore(t *testing.T) {
	c := openDefault(t)
	d := mustDom(t, c, "test")
	img := filepath.Join(t.TempDir(), "test.img")
	if err := c.DomainSave(d, img, "", 0); err != nil {
		t.Fatal(err)
	}
	wantState(t, c, d, driver.StateShutoff, driver.ShutoffSaved)
	data, err := os.ReadFile(img)
	if err != nil || string(data[:15]) != "TestGuestMagic\x00" {
		t.Fatalf("image %q %v", data[:min(len(data), 20)], err)
	}
	if err := c.DomainRestore(img, "", 0); err != nil {
		t.Fatal(err)
	}
	d = mustDom(t, c, "test")
	wantState(t, c, d, driver.StateRunning, driver.RunningRestored)
	if d.ID != 2 {
		t.Fatalf("restored id %d", d.ID)
	}
	err = c.DomainRestore("/nonexistent/img", "", 0)
	wantErr(t, err, virerr.ErrSystemError, virerr.FromTest, "cannot read domain image '/nonexistent/img': No such file or directory")
}

func TestVcpusAndMemory(t *testing.T) {
	c := openDefault(t)
	d := mustDom(t, c, "test")
	if err := c.DomainSetVcpusFlags(d, 1, 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.DomainGetVcpusFlags(d, 0); n != 1 {
		t.Fatalf("live vcpus %d", n)
	}
	if n, _ := c.DomainGetVcpusFlags(d, affectConfig); n != 2 {
		t.Fatalf("config vcpus %d", n)
	}
	if err := c.DomainSetMemoryFlags(d, 1048576, 0); err != nil {
		t.Fatal(err)
	}
	if info, _ := c.DomainGetInfo(d); info.Memory != 1048576 || info.NrVirtCPU != 1 {
		t.Fatalf("info %+v", info)
	}
	// Destroy drops the live definition.
	c.DomainDestroy(d, 0)
	if info, _ := c.DomainGetInfo(d); info.Memory != 2097152 || info.NrVirtCPU != 2 {
		t.Fatalf("info after destroy %+v", info)
	}
	if err := c.DomainSetMaxMemory(d, 4194304); err != nil {
		t.Fatal(err)
	}
	if m, _ := c.DomainGetMaxMemory(d); m != 4194304 {
		t.Fatalf("max memory %d", m)
	}
}

func TestDevices(t *testing.T) {
	c := openDefault(t)
	d := mustDom(t, c, "test")
	disk := "<disk type='file' device='disk'><source file='/x.img'/><target dev='vdb' bus='virtio'/></disk>"
	if err := c.DomainAttachDeviceFlags(d, disk, affectLive|affectConfig); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DomainBlockStats(d, "vdb"); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainAttachDeviceFlags(d, "<interface type='network'><source network='default'/></interface>", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DomainInterfaceStats(d, "testnet1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainDetachDeviceFlags(d, disk, affectLive); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.DomainDetachDeviceFlags(d, disk, affectLive), virerr.ErrDeviceMissing, virerr.FromDomain,
		"device not found: matching device not found")
	// The config still has the disk, and gets it back at the next start.
	c.DomainDestroy(d, 0)
	d, _ = c.DomainCreate(d, 0)
	if _, err := c.DomainBlockStats(d, "vdb"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DomainInterfaceStats(d, "testnet1"); err == nil {
		t.Fatal("live-only interface survived a restart")
	}
}

func TestStoppedEventIDs(t *testing.T) {
	c := openDefault(t)
	rec := record(t, c)
	c.DomainDestroy(mustDom(t, c, "test"), 0)
	tr, _ := c.DomainCreateXML(demoXML, 0)
	c.DomainDestroy(tr, 0)
	evs := rec.wait(t, 3)
	// A persistent domain's event carries its config, id -1; a transient
	// one keeps its last id.
	if e := evs[0].(driver.DomainEvent); e.Dom.ID != -1 || e.Event != driver.EventStopped {
		t.Fatalf("persistent stop event %+v", e)
	}
	if e := evs[2].(driver.DomainEvent); e.Dom.ID != 2 || e.Event != driver.EventStopped {
		t.Fatalf("transient stop event %+v", e)
	}
}
