package qemu

import (
	"context"
	"net"
	"strconv"
	"time"

	"govirt/driver"
	"govirt/virerr"
)

// Post-copy recovery (virsh migrate --postcopy --postcopy-resume,
// VIR_MIGRATE_POSTCOPY_RESUME), as libvirt 9.0: the same five steps as a
// migration, each taking up the migration parked in postcopy_failed
// (migrate_resume_state.go) in turn:
//   - Begin (source): QEMU must be in postcopy-paused; the migratable XML
//     and a cookie go to the destination;
//   - Prepare (destination): QEMU must be in postcopy-paused too; it
//     listens again with migrate-recover, on a port chosen as for a
//     migration (or --migrateuri's);
//   - Perform (source): migrate with resume=true to that URI, which only
//     starts the reconnection;
//   - Finish (destination): waits for QEMU to complete; the guest is then
//     running (migrated);
//   - Confirm (source): the guest stops as migrated.
// A step that fails leaves the migration parked again, to be resumed
// once more.

// resumeBegin is Begin with VIR_MIGRATE_POSTCOPY_RESUME
// (qemuMigrationSrcBeginResumePhase).
func (c *conn) resumeBegin(h driver.Domain, params []driver.TypedParam, flags uint32, owner *conn) (string, []byte, error) {
	d := c.d
	if err := d.checkMigrateTLSForce(flags); err != nil {
		return "", nil, err
	}
	v, err := d.doms.get(h)
	if err != nil {
		return "", nil, err
	}
	m, err := c.takeResume(v, false, flags, phasePostcopyFailed, phaseBeginResume, c.owner("migration out"))
	if err != nil {
		return "", nil, err
	}
	xml, cookie, err := d.beginResumeXML(v, params)
	if err != nil {
		d.parkMigration(v, m)
		return "", nil, err
	}
	d.resumeStepDone(v, m, owner)
	return xml, cookie, nil
}

// beginResumeXML is qemuMigrationSrcBeginResume: QEMU must have paused
// the post-copy migration; the guest's migratable XML (or the user's) and
// a cookie go to the destination.
func (d *Driver) beginResumeXML(v *vm, params []driver.TypedParam) (string, []byte, error) {
	v.mu.Lock()
	mon, live := v.mon, v.live
	v.mu.Unlock()
	if err := checkPostcopyPaused(mon); err != nil {
		return "", nil, err
	}
	xml, err := d.beginXML(v, live, params)
	if err != nil {
		return "", nil, err
	}
	return string(xml), d.makeCookie(v, ""), nil
}

// checkPostcopyPaused refuses a resume while QEMU's migration is not
// paused (qemuMigrationAnyRefreshStatus and its check).
func checkPostcopyPaused(mon monitor) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := queryMigrate(ctx, mon)
	if err != nil {
		return err
	}
	if st.Status != "postcopy-paused" {
		return errQEMU(virerr.ErrOperationInvalid, "%s", "QEMU reports migration is still running")
	}
	return nil
}

// resumePrepare is Prepare with VIR_MIGRATE_POSTCOPY_RESUME
// (qemuMigrationDstPrepareResume): the guest is the one already here
// under the migration's name.
func (c *conn) resumePrepare(params []driver.TypedParam, cookieIn []byte, flags uint32) ([]byte, string, *vm, error) {
	d := c.d
	dxml := migParam(params, migParamDestXML)
	if dxml == "" {
		return nil, "", nil, errQEMU(virerr.ErrInvalidArg, "no domain XML passed")
	}
	def, err := parseDef(dxml, false)
	if err != nil {
		return nil, "", nil, err
	}
	name := def.Name
	if dname := migParam(params, migParamDestName); dname != "" {
		name = dname
	}
	v := d.doms.byNameLookup(name)
	if v == nil {
		return nil, "", nil, virerr.New(virerr.FromQemu, virerr.ErrNoDomain, "no domain with matching name '%s'", name)
	}
	m, err := c.takeResume(v, true, flags, phasePostcopyFailed, phasePrepareResume, c.owner("migration in"))
	if err != nil {
		return nil, "", nil, err
	}
	fail := func(err error) ([]byte, string, *vm, error) {
		d.parkMigration(v, m)
		return nil, "", nil, err
	}
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	if err := checkPostcopyPaused(mon); err != nil {
		return fail(err)
	}
	ck, err := parseCookie(cookieIn)
	if err != nil {
		return fail(err)
	}
	if err := checkCookieDomain(ck, def.Name, def.UUID.String()); err != nil {
		return fail(err)
	}
	// Finish waits for what QEMU does from now on.
	drainMigrationEvents(m)
	uri, err := d.recoverIncoming(context.Background(), v, mon, params)
	if err != nil {
		return fail(err)
	}
	d.resumeStepDone(v, m, c.root())
	d.faultAt(phasePrepareResume)
	return d.makeCookie(v, ""), uri, v, nil
}

// recoverIncoming has the destination's QEMU listen again
// (migrate-recover) where a migration's Prepare would have it listen
// (prepareIncoming): --listen-address, the host and port of
// --migrateuri, else every address and a free port of the migration
// range advertised under this host's name.
func (d *Driver) recoverIncoming(ctx context.Context, v *vm, mon monitor, params []driver.TypedParam) (string, error) {
	listen, host, fixedPort, err := incomingEndpoint(params)
	if err != nil {
		return "", err
	}
	tried := map[int]bool{}
	for attempt := 0; ; attempt++ {
		port := fixedPort
		if port == 0 {
			var err error
			if port, err = d.reserveMigPort(listen, tried); err != nil {
				return "", err
			}
			tried[port] = true
		}
		qu := "tcp:" + net.JoinHostPort(listen, strconv.Itoa(port))
		err := mon.Execute(ctx, "migrate-recover", map[string]any{"uri": qu}, nil)
		if fixedPort == 0 {
			d.releaseMigPort(port) // QEMU holds it now, or nobody does
		}
		if err == nil {
			uri := "tcp:" + net.JoinHostPort(host, strconv.Itoa(port))
			v.mu.Lock()
			if v.mig != nil {
				v.mig.URI = uri
			}
			v.mu.Unlock()
			return uri, nil
		}
		if fixedPort != 0 || attempt >= 8 {
			return "", qmpFailed("migrate-recover", err)
		}
	}
}

// resumePerform is Perform with VIR_MIGRATE_POSTCOPY_RESUME
// (qemuMigrationSrcPerformResume), driven by the client.
func (c *conn) resumePerform(h driver.Domain, params []driver.TypedParam, flags uint32) ([]byte, error) {
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return nil, err
	}
	m, err := c.takeResume(v, false, flags, phaseBeginResume, phasePerformResume, c.owner("migration out"))
	if err != nil {
		return nil, err
	}
	if err := d.performResume(context.Background(), v, params, flags); err != nil {
		d.parkMigration(v, m)
		return nil, err
	}
	d.resumeStepDone(v, m, c.root())
	d.faultAt(phasePerformResume)
	return d.makeCookie(v, ""), nil
}

// performResume has the source's QEMU reconnect (qemuMigrationSrcResume):
// of the migration parameters only the post-copy bandwidth may change
// now, as libvirt applies on resume; capabilities are QEMU's from the
// migration's start.
func (d *Driver) performResume(ctx context.Context, v *vm, params []driver.TypedParam, flags uint32) error {
	v.mu.Lock()
	mon, m := v.mon, v.mig
	v.mu.Unlock()
	if mon == nil || m == nil {
		return errNotRunning()
	}
	uri, err := qemuMigrateURI(migParam(params, migParamURI))
	if err != nil {
		return err
	}
	s, err := migSettingsFor(flags, params, partySource)
	if err != nil {
		return err
	}
	if bw, ok := s.params["max-postcopy-bandwidth"]; ok {
		if err := mon.Execute(ctx, "migrate-set-parameters", map[string]any{"max-postcopy-bandwidth": bw}, nil); err != nil {
			return qmpFailed("migrate-set-parameters", err)
		}
	}
	// Confirm waits for what QEMU does from now on.
	drainMigrationEvents(m)
	if err := mon.Execute(ctx, "migrate", map[string]any{"uri": uri, "resume": true}, nil); err != nil {
		return errQEMU(virerr.ErrOperationFailed, "migration out job: %v", err)
	}
	v.mu.Lock()
	m.URI = uri
	v.mu.Unlock()
	return nil
}

// resumeFinish is Finish with VIR_MIGRATE_POSTCOPY_RESUME
// (qemuMigrationDstFinishResume): once QEMU completed, the guest runs
// here (migrated); a cancelled or failed resume leaves it running
// (post-copy failed), to be resumed again.
func (c *conn) resumeFinish(v *vm, flags uint32, cancelled bool) (driver.Domain, []byte, error) {
	d := c.d
	m, err := c.takeResume(v, true, flags, phasePrepareResume, phaseFinishResume, c.owner("migration in"))
	if err != nil {
		return driver.Domain{}, nil, err
	}
	v.mu.Lock()
	mon, name := v.mon, v.name
	v.mu.Unlock()
	if cancelled {
		d.postcopyFailed(v)
		d.parkMigration(v, m)
		return driver.Domain{}, nil, errQEMU(virerr.ErrMigrateFinishOk, "migration of '%s' was cancelled", name)
	}
	d.faultAt(phaseFinishResume)
	if err := waitResumed(context.Background(), mon, m, "migration in"); err != nil {
		d.postcopyFailed(v)
		d.parkMigration(v, m)
		return driver.Domain{}, nil, err
	}
	v.mu.Lock()
	h := v.handle()
	v.mu.Unlock()
	cookie := d.makeCookie(v, "")
	d.completeResumedIn(v, m)
	return h, cookie, nil
}

// resumeConfirm is Confirm with VIR_MIGRATE_POSTCOPY_RESUME: the guest
// stops here once the destination has all of it; a cancelled resume
// leaves it paused (post-copy failed), to be resumed again.
func (c *conn) resumeConfirm(v *vm, flags uint32, cancelled bool) error {
	d := c.d
	m, err := c.takeResume(v, false, flags, phasePerformResume, phaseConfirmResume, c.owner("migration out"))
	if err != nil {
		return err
	}
	d.confirmResumed(v, m, cancelled)
	return nil
}

// confirmResumed ends a resume on the source (Confirm's work).
func (d *Driver) confirmResumed(v *vm, m *migration, cancelled bool) {
	if cancelled {
		d.postcopyFailed(v)
		d.parkMigration(v, m)
		return
	}
	// The destination completed: QEMU here only catches up.
	d.drainPostcopy(context.Background(), v, m)
	d.completeResumedOut(v, m)
}
