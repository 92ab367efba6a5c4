package qemu

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// The source side of a migration: Begin takes the guest's job and keeps
// it (change protection) until Confirm, or until Perform fails.

// migrateBegin3 is the Begin step; owner is the client connection that
// drives the next steps, nil when this daemon drives them (peer to peer).
func (c *conn) migrateBegin3(h driver.Domain, params []driver.TypedParam, flags uint32, owner *conn) (string, []byte, error) {
	if flags&migratePostcopyResume != 0 {
		return c.resumeBegin(h, params, flags, owner) // migrate_resume.go
	}
	if err := checkMigrateFlags(flags); err != nil {
		return "", nil, err
	}
	if flags&migrateOffline != 0 {
		return c.offlineBegin(h, params, flags, owner) // migrate_offline.go
	}
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return "", nil, err
	}
	if k, _, _, _ := v.job.asyncInfo(); k == asyncMigrationOut || k == asyncMigrationIn {
		// A post-copy migration waiting for its resume, or another one.
		return "", nil, errQEMU(virerr.ErrOperationInvalid, "another migration job is already running for domain '%s'", h.Name)
	}
	if err := v.beginMigrationJob(c.waitCtx(), asyncMigrationOut, c.owner("migration out")); err != nil {
		return "", nil, err
	}
	done := false
	defer func() {
		if !done {
			v.endMigrationJob()
		}
	}()
	v.mu.Lock()
	err = v.goneErr()
	v.mu.Unlock()
	if err != nil {
		return "", nil, err
	}
	v.mu.Lock()
	active, broken, mon, live, state := v.active(), v.brokenMsg, v.mon, v.live, v.state
	v.mu.Unlock()
	switch {
	case !active:
		return "", nil, errNotRunning()
	case broken != "":
		return "", nil, errQEMU(virerr.ErrOperationFailed, "%s", broken)
	case mon == nil:
		return "", nil, errQEMU(virerr.ErrOperationInvalid, "monitor of domain '%s' is not connected", h.Name)
	case state != driver.StateRunning && state != driver.StatePaused:
		return "", nil, errQEMU(virerr.ErrOperationInvalid, "domain '%s' is not running or paused", h.Name)
	}
	if err := c.migrationAllowed(v, h, mon); err != nil {
		return "", nil, err
	}
	out, err := beginCPU(v, live) // migrate_cookie_cpu.go
	if err != nil {
		return "", nil, err
	}
	xml, err := d.beginXML(v, out, params)
	if err != nil {
		return "", nil, err
	}
	nbd, err := beginNBD(context.Background(), mon, live, params, flags)
	if err != nil {
		return "", nil, err
	}
	m := newMigration(false, flags, owner)
	// A peer-to-peer migration is one call: no other call takes its steps.
	m.Phase, m.PreState, m.busy = phaseBegin, state, owner == nil
	v.mu.Lock()
	v.mig = m
	v.mu.Unlock()
	d.saveStatusLogged(v)
	done = true
	d.faultAt(phaseBegin)
	cookie, err := withCookieCPU(v, d.makeCookieNBD(v, "", nbd))
	if err != nil {
		return "", nil, err
	}
	return string(xml), cookie, nil
}

// migrationAllowed refuses what libvirt 9.0 refuses to migrate: a guest
// with snapshots, an I/O error, a block job, or a QEMU migration blocker.
func (c *conn) migrationAllowed(v *vm, h driver.Domain, mon monitor) error {
	if n, err := c.DomainSnapshotNum(h, 0); err != nil {
		return err
	} else if n > 0 {
		return errQEMU(virerr.ErrOperationInvalid, "cannot migrate domain with %d snapshots", n)
	}
	v.mu.Lock()
	ioErr := v.state == driver.StatePaused && v.reason == driver.PausedIOError
	jobs := len(blockOf(v).Jobs)
	v.mu.Unlock()
	if ioErr {
		return errQEMU(virerr.ErrOperationInvalid, "cannot migrate domain with I/O error")
	}
	if jobs > 0 {
		return errQEMU(virerr.ErrOperationInvalid, "domain has active block job")
	}
	if st, err := qmp.QueryMigrate(context.Background(), mon); err == nil && len(st.BlockedReasons) > 0 {
		return errQEMU(virerr.ErrOperationInvalid, "cannot migrate domain: %s", strings.Join(st.BlockedReasons, "; "))
	}
	return nil
}

func (c *conn) migratePerform3(h driver.Domain, dconnURI string, params []driver.TypedParam, cookieIn []byte, flags uint32) ([]byte, error) {
	// QEMU's settings are computed before anything starts, as libvirt
	// (migrate_caps.go).
	if _, err := migSettingsFor(flags, params, partySource); err != nil {
		return nil, err
	}
	if err := c.d.checkMigrateTLSForce(flags); err != nil { // migrate_tls.go
		return nil, err
	}
	if flags&migratePeer2Peer != 0 {
		return nil, c.migrateP2P(h, dconnURI, params, flags)
	}
	if flags&migratePostcopyResume != 0 {
		return c.resumePerform(h, params, flags) // migrate_resume.go
	}
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return nil, err
	}
	m, err := migrationOf(v, false)
	if err != nil {
		return nil, err
	}
	if m.Phase != phaseBegin {
		v.setMigPhase(m, m.Phase)
		return nil, errQEMU(virerr.ErrOperationInvalid, "migration of '%s' is in phase %s, not begin3", h.Name, m.Phase)
	}
	return d.performOut(context.Background(), v, m, params, cookieIn, flags, nil)
}

// performOut is the Perform step on a guest in the Begin phase: it streams
// the guest to the destination (through tun when tunnelled) and returns
// the cookie for Finish. On failure the guest runs here again and the
// migration is over. ctx ends the step early (a lost peer connection).
func (d *Driver) performOut(ctx context.Context, v *vm, m *migration, params []driver.TypedParam, cookieIn []byte, flags uint32, tun *tunnelOut) ([]byte, error) {
	var uri string
	var err error
	if tun == nil {
		uri, err = qemuMigrateURI(migParam(params, migParamURI))
	}
	if err == nil {
		// The destination's cookie names its daemon: a restart after
		// QEMU completed asks it whether it runs the guest.
		peer := cookiePeer(cookieIn)
		v.mu.Lock()
		m.Peer = peer
		if ck, cerr := parseCookie(cookieIn); cerr == nil && ck.NBD != nil {
			m.nbdPort = ck.NBD.Port
		}
		v.mu.Unlock()
		v.setMigPhase(m, phasePerform)
		d.saveStatusLogged(v)
		d.faultAt("perform3")
		if err = d.relocateGraphics(ctx, v, m, cookieIn, params); err == nil { // migrate_cookie_graphics.go
			err = d.performMigration(ctx, v, m, uri, params, flags, tun)
		}
	}
	if err != nil {
		d.restoreSource(context.Background(), v, m)
		d.endOrPark(v, m) // migrate_resume_state.go
		return nil, err
	}
	v.setMigPhase(m, phasePerformed)
	d.saveStatusLogged(v)
	d.faultAt(phasePerformed)
	var pxml string
	v.mu.Lock()
	def := v.def
	v.mu.Unlock()
	if flags&migratePersistDest != 0 && def != nil {
		if b, err := d.formatMigratable(def); err == nil {
			pxml = string(b)
		}
	}
	// As libvirt, the figures of the completed migration go to the
	// destination (migrate_cookie_stats.go).
	_, _, _, started := v.job.asyncInfo()
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	done := d.completedParams(v, mon, asyncMigrationOut)
	v.mu.Lock()
	m.doneParams = done
	v.mu.Unlock()
	return d.makeCookieWith(v, pxml, performNBD(v, params, flags, tun), withStopped(makeCookieStats(done, started, time.Now()), v, m)), nil
}

// performNBD is the <nbd> element of Perform's cookie after a storage
// migration, as libvirt's source sends it (qemuMigrationSrcRun adds
// QEMU_MIGRATION_COOKIE_NBD): libvirt's destination stops its NBD server
// in Finish only when that cookie has it, and a left-over export keeps
// the guest's disk from being inactivated by its next migration.
func performNBD(v *vm, params []driver.TypedParam, flags uint32, tun *tunnelOut) *cookieNBD {
	if !copiesStorage(flags) || tun != nil {
		return nil
	}
	v.mu.Lock()
	mon, live := v.mon, v.live
	v.mu.Unlock()
	if mon != nil && live != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if n, err := beginNBD(ctx, mon, live, params, flags); err == nil && n != nil {
			return n
		}
	}
	return &cookieNBD{}
}

// parseMigrateURI reads "tcp:HOST[:PORT]" or libvirt's
// "tcp://HOST[:PORT]"; port is 0 when absent.
func parseMigrateURI(uri string) (host string, port int, err error) {
	rest, ok := strings.CutPrefix(uri, "tcp:")
	if !ok {
		return "", 0, errQEMU(virerr.ErrArgumentUnsupported, "unsupported migration URI '%s'", uri)
	}
	rest = strings.TrimPrefix(rest, "//")
	host, ps, serr := net.SplitHostPort(rest)
	if serr != nil {
		host, ps = strings.Trim(rest, "[]"), ""
	}
	if ps != "" {
		if port, err = strconv.Atoi(ps); err != nil || port <= 0 || port > 65535 {
			return "", 0, errQEMU(virerr.ErrInvalidArg, "invalid migration URI '%s'", uri)
		}
	}
	if host == "" || strings.ContainsAny(host, "/:") && !strings.Contains(rest, "[") {
		return "", 0, errQEMU(virerr.ErrInvalidArg, "invalid migration URI '%s'", uri)
	}
	return host, port, nil
}

// qemuMigrateURI turns Prepare's "tcp:HOST:PORT" into QEMU's form.
func qemuMigrateURI(uri string) (string, error) {
	host, port, err := parseMigrateURI(uri)
	if err != nil {
		return "", err
	}
	if port == 0 {
		return "", errQEMU(virerr.ErrInvalidArg, "migration URI '%s' has no port", uri)
	}
	return "tcp:" + net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// performMigration streams the guest to uri and waits until QEMU says it
// completed; the guest is then paused here (reason migration).
func (d *Driver) performMigration(ctx context.Context, v *vm, m *migration, uri string, params []driver.TypedParam, flags uint32, tun *tunnelOut) error {
	v.mu.Lock()
	mon, running := v.mon, v.state == driver.StateRunning
	v.mu.Unlock()
	if mon == nil {
		return errNotRunning()
	}
	if err := enableMigrationEvents(ctx, mon); err != nil {
		return err
	}
	// QEMU's default 32 MiB/s would make TCG guests crawl; libvirt too
	// lifts the limit unless asked for one (MiB/s).
	bw := uint64(1 << 40)
	if s := migSpeedOf(v); s < migBandwidthMax { // migrate-setspeed's
		bw = s << 20
	}
	for _, p := range params {
		if p.Field == migParamBandwidth {
			if n, ok := toUint64(p.Value); ok && n > 0 {
				bw = n << 20
			}
		}
	}
	if err := qmp.MigrateSetParameters(ctx, mon, qmp.MigrateParameters{MaxBandwidth: &bw}); err != nil {
		return qmpFailed("migrate-set-parameters", err)
	}
	if err := applyMigSettings(ctx, mon, flags, params, partySource); err != nil {
		return err
	}
	if err := d.raiseMemlock(v, m, flags); err != nil { // migrate_memlock.go
		return err
	}
	tlsHost := migParam(params, migParamTLSDestination)
	if tlsHost == "" && uri != "" {
		tlsHost, _, _ = parseMigrateURI(uri)
	}
	if err := d.setupMigrationTLS(ctx, mon, flags, false, tlsHost); err != nil { // migrate_tls.go
		return err
	}
	v.mu.Lock()
	v.pausedReason = driver.PausedMigration
	v.mu.Unlock()
	if flags&migrateLive == 0 && running {
		// Offline (non-live) migration: the guest stops first.
		if err := qmp.Stop(ctx, mon); err != nil {
			return qmpFailed("pausing for migration", err)
		}
	}
	var sc *storageCopy
	if copiesStorage(flags) && tun == nil {
		// The disks first: memory moves once every mirror is ready.
		if m.nbdPort == 0 {
			return errQEMU(virerr.ErrInternalError, "%s", "migration cookie lacks the destination's NBD port")
		}
		host, _, err := parseMigrateURI(uri)
		if err != nil {
			return err
		}
		if sc, err = startStorageCopy(ctx, v, m, mon, host, m.nbdPort, params, flags); err != nil {
			return err
		}
	}
	v.mu.Lock()
	m.URI = uri
	aborted := m.aborted
	m.started = !aborted
	v.mu.Unlock()
	if aborted {
		if sc != nil {
			sc.abort(mon)
		}
		return errQEMU(virerr.ErrOperationAborted, "migration out job: canceled by client")
	}
	var err error
	switch {
	case tun != nil:
		err = tun.run(ctx, mon, m)
	default:
		if err = qmp.Migrate(ctx, mon, uri); err != nil {
			err = errQEMU(virerr.ErrOperationFailed, "migration out job: %v", err)
		} else {
			// With --postcopy, Perform ends once QEMU switched.
			_, err = waitMigrationSwitch(ctx, mon, m, flags&migratePostcopy != 0, "migration out job")
		}
	}
	if err != nil && migrationIOAborted(v, m) {
		err = errQEMU(virerr.ErrOperationFailed, "%s", "job 'migration out' failed due to I/O error")
	}
	if sc != nil {
		if err != nil {
			sc.abort(mon)
		} else {
			err = sc.complete(mon)
		}
	}
	return err
}

// restoreSource makes a guest whose migration failed run again if it ran
// before, cancelling what QEMU may still be sending.
func (d *Driver) restoreSource(ctx context.Context, v *vm, m *migration) {
	v.mu.Lock()
	mon := v.mon
	v.pausedReason = driver.PausedUnknown
	v.mu.Unlock()
	if mon == nil {
		return
	}
	if inPostcopy(v, m) {
		// The destination has run the guest: it cannot run here again.
		d.postcopyFailed(v)
		return
	}
	defer resetMigSettings(ctx, mon)
	defer dropMigrationTLS(ctx, mon, m.Flags)
	defer d.resetMemlock(v, m) // migrate_memlock.go
	if st, err := qmp.QueryMigrate(ctx, mon); err == nil {
		switch st.Status {
		case "setup", "active", "pre-switchover", "device", "wait-unplug":
			_ = qmp.MigrateCancel(ctx, mon)
		}
	}
	if qs, err := qmp.QueryStatus(ctx, mon); err != nil || qs.Running || m.PreState != driver.StateRunning {
		return
	}
	v.mu.Lock()
	ioErr := v.state == driver.StatePaused && v.reason == driver.PausedIOError
	v.mu.Unlock()
	if ioErr {
		return // as libvirt: a guest paused by a disk error stays paused
	}
	if err := d.startCPUs(ctx, v, driver.RunningMigrationCanceled); err != nil {
		d.log.Error("cannot resume guest after failed migration", "domain", v.name, "err", err)
	}
}

func (c *conn) DomainMigrateConfirm3(h driver.Domain, _ []driver.TypedParam, _ []byte, flags uint32, cancelled bool) error {
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return err
	}
	if flags&migratePostcopyResume != 0 {
		return c.resumeConfirm(v, flags, cancelled) // migrate_resume.go
	}
	m, err := migrationOf(v, false)
	if err != nil {
		return err
	}
	d.faultAt("confirm3")
	if flags&migrateOffline != 0 {
		return d.offlineConfirm(v, flags, cancelled) // migrate_offline.go
	}
	return d.confirmOut(v, m, flags, cancelled)
}

// confirmOut is the Confirm step: the guest stops here once the
// destination runs it, or runs here again when the migration was
// cancelled.
func (d *Driver) confirmOut(v *vm, m *migration, flags uint32, cancelled bool) error {
	ctx := context.Background()
	if cancelled && inPostcopy(v, m) {
		// Neither side has the whole guest: it stays paused here
		// (post-copy failed), waiting for a resume, as libvirt.
		d.restoreSource(ctx, v, m)
		d.endOrPark(v, m)
		return nil
	}
	if cancelled && m.Phase == phasePerformed && m.Peer != "" {
		// QEMU completed, yet the client says the destination failed:
		// it may only have lost Finish's answer to a destination daemon
		// that died after it resumed the guest. Resume here only if the
		// destination does not run it.
		d.applyPeer(ctx, v, m, d.waitPeer(ctx, v, m, time.Now().Add(peerWaitConfirm)), true, true)
		return nil
	}
	if cancelled || m.Phase != phasePerformed {
		d.restoreSource(ctx, v, m)
		d.endOrPark(v, m)
		return nil
	}
	postcopy := inPostcopy(v, m)
	if postcopy {
		d.drainPostcopy(ctx, v, m)
	}
	v.mu.Lock()
	mon, done := v.mon, m.doneParams
	v.mu.Unlock()
	// Perform's figures, unless QEMU went on in post-copy after it.
	if done != nil && !postcopy {
		d.keepCompleted(v, done) // migrate_jobstats.go
	} else {
		d.recordCompleted(v, mon, asyncMigrationOut)
	}
	d.waitSpice(v, m) // migrate_cookie_graphics.go
	err := d.stopMigratedSource(v, flags)
	d.endMigration(v)
	d.dropIfTransient(v)
	return err
}

// stopMigratedSource stops the guest here once the destination runs it,
// and undefines it with --undefinesource.
func (d *Driver) stopMigratedSource(v *vm, flags uint32) error {
	v.mu.Lock()
	v.beingDestroyed = true
	proc, persistent, name := v.proc, v.persistent, v.name
	v.mu.Unlock()
	if proc != nil {
		proc.kill(killGrace)
	}
	d.cleanupStopped(v, driver.ShutoffMigrated)
	d.emit(v, driver.EventStopped, driver.EventStoppedMigrated)
	var undefErr error
	if flags&migrateUndefineSource != 0 && persistent {
		if undefErr = d.removeDef(name); undefErr == nil {
			d.setAutostartFile(name, false)
			v.mu.Lock()
			v.persistent, v.def, v.autostart = false, nil, false
			v.mu.Unlock()
			d.emit(v, driver.EventUndefined, driver.EventUndefinedRemoved)
		}
	}
	return undefErr
}

// beginXML is the migratable XML Begin sends: out's, or the user's
// destination XML (the migration's dxml parameter), which must describe
// the same guest.
func (d *Driver) beginXML(v *vm, out *conf.Domain, params []driver.TypedParam) ([]byte, error) {
	if dxml := migParam(params, migParamDestXML); dxml != "" {
		nd, err := parseDef(dxml, false)
		if err != nil {
			return nil, err
		}
		if nd.UUID != v.uuid {
			return nil, errQEMU(virerr.ErrInvalidArg, "target domain uuid %s does not match source %s", nd.UUID, v.uuid)
		}
		out = nd
	}
	return d.formatMigratable(out)
}
