package qemu

import (
	"context"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// virDomainMigrateFlags.
const (
	migrateLive             = 1 << 0
	migratePeer2Peer        = 1 << 1
	migrateTunnelled        = 1 << 2
	migratePersistDest      = 1 << 3
	migrateUndefineSource   = 1 << 4
	migratePaused           = 1 << 5
	migrateNonSharedDisk    = 1 << 6
	migrateNonSharedInc     = 1 << 7
	migrateOffline          = 1 << 10
	migratePostcopy         = 1 << 15
	migratePostcopyResume   = 1 << 19
	migrateChangeProtection = 1 << 8
)

// VIR_MIGRATE_PARAM_* names.
const (
	migParamURI           = "migrate_uri"
	migParamDestName      = "destination_name"
	migParamDestXML       = "destination_xml"
	migParamPersistentXML = "persistent_xml"
	migParamBandwidth     = "bandwidth"
	migParamListenAddress = "listen_address"
)

// VIR_DRV_FEATURE_* this driver supports beyond the RPC layer's.
const (
	featureMigrationV3      = 6
	featureChangeProtection = 7
	featureMigrationParams  = 13
)

// SupportsFeature: migration protocol 3 with parameters, with the source
// keeping its job from Begin to Confirm (change protection), as libvirt's
// QEMU driver, and peer-to-peer migration (migrate_p2p.go). Offline
// migration is not offered.
func (c *conn) SupportsFeature(f int32) bool {
	switch f {
	case featureMigrationV3, featureChangeProtection, featureMigrationParams, featureMigrationP2P, featureMigrationOffline:
		return true
	}
	return false
}

// Migration phases, recorded in the status so a restarted daemon knows
// what to undo, as libvirt's migration job phases.
const (
	phaseBegin     = "begin3"
	phasePerform   = "perform3"
	phasePerformed = "perform3_done"
	phasePrepare   = "prepare"
	phaseFinish    = "finish3"
)

// migration is a guest's migration job: it holds the guest's job from
// Begin to Confirm (outgoing) or Prepare to Finish (incoming), across
// several client calls. Fields are under the guest's mu.
type migration struct {
	Incoming bool         `json:"incoming"`
	Phase    string       `json:"phase"`
	Flags    uint32       `json:"flags"`
	PreState driver.State `json:"pre_state"`
	URI      string       `json:"uri,omitempty"`
	// Peer is the other daemon's URI from its cookie, asked by recovery
	// when this side cannot tell where the guest lives (migrate_peer.go).
	Peer string `json:"peer,omitempty"`
	// Created lists the images an incoming storage migration created
	// (removed again when it fails); NBD says QEMU's NBD server runs.
	Created []string `json:"created,omitempty"`
	NBD     bool     `json:"nbd,omitempty"`
	// Defined says the incoming migration made the guest persistent
	// here (--persistent on a guest not defined before): undoing the
	// migration undefines it again, so no copy is left behind.
	Defined bool `json:"defined,omitempty"`
	// Postcopy says QEMU switched to post-copy: the guest's memory is
	// split between both sides, neither can take it back alone.
	Postcopy bool `json:"postcopy,omitempty"`
	// PreMemlock is QEMU's RLIMIT_MEMLOCK before a --zerocopy migration
	// raised it (migrate_memlock.go); 0 when it was not raised.
	PreMemlock uint64 `json:"pre_memlock,omitempty"`

	owner   *conn // the client connection that drives it
	started bool  // QEMU was told to migrate (outgoing)
	aborted bool  // domjobabort came before QEMU started
	ioAbort bool  // --abort-on-error cancelled it after an I/O error
	// offlineDef is the definition an incoming --offline migration
	// defines in Finish (migrate_offline.go).
	offlineDef *conf.Domain
	nbdPort    int // the destination NBD server's port (storage migration)
	// doneParams are the figures of the completed outgoing migration,
	// taken when Perform ends and sent in its cookie; Confirm keeps them.
	doneParams []driver.TypedParam
	busy       bool        // a step is running on owner's behalf
	stoppedAt  time.Time   // when QEMU stopped the vCPUs (migrate_stopped.go)
	events     chan string // MIGRATION event statuses

	// spiceDone is closed by QEMU's SPICE_MIGRATE_COMPLETED once QEMU
	// was told where the destination's SPICE server is
	// (migrate_cookie_graphics.go).
	spiceDone   chan struct{}
	spiceClosed bool
}

func newMigration(incoming bool, flags uint32, owner *conn) *migration {
	return &migration{Incoming: incoming, Flags: flags, owner: owner, events: make(chan string, 64)}
}

// onMigrationEvent hands MIGRATION's status to the migration waiting.
func onMigrationEvent(v *vm, ev *qmp.MigrationEvent) {
	v.mu.Lock()
	m := v.mig
	v.mu.Unlock()
	if m == nil {
		return
	}
	select {
	case m.events <- ev.Status:
	default: // the waiter also polls; never block the event goroutine
	}
}

// enableMigrationEvents asks QEMU for MIGRATION events.
func enableMigrationEvents(ctx context.Context, mon monitor) error {
	caps := []qmp.MigrationCapability{{Capability: "events", State: true}}
	if err := qmp.MigrateSetCapabilities(ctx, mon, caps); err != nil {
		return qmpFailed("migrate-set-capabilities", err)
	}
	return nil
}

// queryMigrate is query-migrate on a monitor that may be gone (nil).
func queryMigrate(ctx context.Context, mon monitor) (qmp.MigrationInfo, error) {
	if mon == nil {
		return qmp.MigrationInfo{}, errNotRunning()
	}
	return qmp.QueryMigrate(ctx, mon)
}

// waitMigrationEvents waits for QEMU's migration to complete, driven by
// MIGRATION events; a slow query-migrate covers a QEMU that died or an
// event that could not be queued.
func waitMigrationEvents(ctx context.Context, mon monitor, m *migration, what string) error {
	wctx, cancel := context.WithTimeout(ctx, 6*time.Hour)
	defer cancel()
	if err := qmp.WaitMigration(wctx, mon, m.events, time.Second); err != nil {
		return migrationWaitErr(err, ctx, what)
	}
	return nil
}

// migParam returns a string parameter.
func migParam(params []driver.TypedParam, name string) string {
	for _, p := range params {
		if p.Field == name {
			if s, ok := p.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// checkMigrateFlags refuses what this driver does not implement.
func checkMigrateFlags(flags uint32) error {
	switch {
	case flags&migrateNonSharedDisk != 0 && flags&migrateNonSharedInc != 0:
		return errQEMU(virerr.ErrOperationInvalid, "%s", "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive")
	}
	return checkMigrateCombos(flags) // migrate_postcopy.go
}

// migrationOf returns v's migration when it is the one expected (in or
// out, owned by c when c is not nil) and marks it busy.
func migrationOf(v *vm, incoming bool) (*migration, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.mig
	if m == nil || m.Incoming != incoming || m.busy {
		dir := "outgoing"
		if incoming {
			dir = "incoming"
		}
		return nil, errQEMU(virerr.ErrOperationInvalid, "domain '%s' is not processing %s migration", v.name, dir)
	}
	m.busy = true
	return m, nil
}

func (v *vm) setMigPhase(m *migration, phase string) {
	v.mu.Lock()
	m.Phase, m.busy = phase, phase == phasePerform || phase == phaseFinish
	v.mu.Unlock()
}

// endMigration forgets v's migration and releases its job.
func (d *Driver) endMigration(v *vm) {
	v.mu.Lock()
	v.mig = nil
	v.mu.Unlock()
	v.job.endAsync()
	d.saveStatusLogged(v)
	v.job.end()
	// A QEMU that died while the migration held the job was not cleaned
	// up by the EOF handler, which gave up waiting for it: do it now.
	v.mu.Lock()
	proc := v.proc
	v.mu.Unlock()
	if proc != nil {
		select {
		case <-proc.exited:
			d.monitorEOF(v)
		default:
		}
	}
}

// abortMigration handles domjobabort for a guest being migrated: an
// incoming migration cannot be aborted (destroy the guest), and an
// outgoing one that QEMU has not started yet fails when it would start.
// It reports whether it handled the call; a started one is cancelled in
// QEMU by the caller.
func abortMigration(v *vm) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.mig
	switch {
	case m == nil:
		return false, nil
	case m.Incoming:
		return true, errQEMU(virerr.ErrOperationInvalid, "cannot abort incoming migration; use virDomainDestroy instead")
	case m.Postcopy:
		return true, errQEMU(virerr.ErrOperationInvalid, "cannot abort migration in post-copy mode")
	case !m.started:
		m.aborted = true
		return true, nil
	}
	return false, nil
}
