package qemu

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// The destination side: Prepare starts QEMU waiting for the stream and
// keeps the guest's job until Finish.

// Incoming migrations listen on a port of libvirt's default range.
const migPortMin, migPortMax = 49152, 49215

// portSet is the driver's set of incoming migration ports handed out.
type portSet struct {
	sync.Mutex
	used map[int]bool
}

// reserveMigPort returns a port nobody listens on, skipping tried ones.
func (d *Driver) reserveMigPort(listen string, tried map[int]bool) (int, error) {
	ps := &d.migPorts
	ps.Lock()
	defer ps.Unlock()
	for p := migPortMin; p <= migPortMax; p++ {
		if ps.used[p] || tried[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(listen, strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ps.used[p] = true
		return p, nil
	}
	return 0, errQEMU(virerr.ErrInternalError, "Unable to find an unused port in range 'migration' (%d-%d)", migPortMin, migPortMax)
}

func (d *Driver) releaseMigPort(p int) {
	d.migPorts.Lock()
	delete(d.migPorts.used, p)
	d.migPorts.Unlock()
}

// migListenAddress is where QEMU listens by default: every address, as
// libvirt ("[::]" where IPv6 works).
func migListenAddress() string {
	if l, err := net.Listen("tcp6", "[::]:0"); err == nil {
		l.Close()
		return "::"
	}
	return "0.0.0.0"
}

// migAdvertisedHost is the host the source connects to: this host's name
// when it resolves, as libvirt.
func migAdvertisedHost() string {
	h, err := os.Hostname()
	if err == nil && h != "" {
		if _, err := net.LookupHost(h); err == nil {
			return h
		}
	}
	return "127.0.0.1"
}

// migratePrepare3 is the Prepare step; tunnel, when not nil, is where
// QEMU reads a tunnelled migration's stream from.
func (c *conn) migratePrepare3(params []driver.TypedParam, cookieIn []byte, flags uint32, tunnel *os.File) ([]byte, string, *vm, error) {
	if err := checkMigrateFlags(flags); err != nil {
		return nil, "", nil, err
	}
	if (tunnel != nil) != (flags&migrateTunnelled != 0) {
		return nil, "", nil, errQEMU(virerr.ErrInternalError, "%s", "Tunnelled migration requested but invalid RPC method called")
	}
	if _, err := migSettingsFor(flags, params, partyDest); err != nil { // migrate_caps.go
		return nil, "", nil, err
	}
	if err := c.d.checkMigrateTLSForce(flags); err != nil { // migrate_tls.go
		return nil, "", nil, err
	}
	if flags&migratePostcopyResume != 0 {
		return c.resumePrepare(params, cookieIn, flags) // migrate_resume.go
	}
	if flags&migrateOffline != 0 {
		return c.offlinePrepare(params, cookieIn, flags) // migrate_offline.go
	}
	d := c.d
	dxml := migParam(params, migParamDestXML)
	if dxml == "" {
		return nil, "", nil, errQEMU(virerr.ErrInvalidArg, "no domain XML passed")
	}
	def, err := parseDef(dxml, false)
	if err != nil {
		return nil, "", nil, err
	}
	// The source's cookie must be about this guest, as libvirt checks
	// (under the name it has there, before --dname renames it).
	ck, err := parseCookie(cookieIn)
	if err != nil {
		return nil, "", nil, err
	}
	if err := checkCookieDomain(ck, def.Name, def.UUID.String()); err != nil {
		return nil, "", nil, err
	}
	live, origCPU, err := cookieCPUDef(def, ck) // migrate_cookie_cpu.go
	if err != nil {
		return nil, "", nil, err
	}
	v, err := c.claimIncoming(def, params)
	if err != nil {
		return nil, "", nil, err
	}
	v.live = live // what launch starts; a persistent guest keeps its definition
	m := newMigration(true, flags, c.root())
	m.Phase, m.busy = phasePrepare, true
	// The source's cookie names its daemon: a restart after the guest's
	// CPUs started here asks it whether it resumed the guest.
	m.Peer = cookiePeer(cookieIn)
	v.mig = m
	v.mu.Unlock()
	var nbd *cookieNBD
	var uri string
	if copiesStorage(flags) {
		// Missing images are created before QEMU opens them.
		var created []string
		if created, err = precreateStorage(def, params, cookieIn); err == nil {
			v.mu.Lock()
			m.Created = created
			v.mu.Unlock()
		}
	}
	if err == nil {
		uri, err = d.prepareIncoming(context.Background(), v, params, tunnel)
	}
	var graphics []byte
	if err == nil {
		d.keepOrigCPU(v, origCPU)
		if graphics, err = d.cookieGraphicsFor(v); err != nil { // migrate_cookie_graphics.go
			d.abortLaunch(v)
		}
	}
	if err == nil && copiesStorage(flags) {
		v.mu.Lock()
		mon := v.mon
		v.mu.Unlock()
		var port int
		if port, err = d.startNBDServer(context.Background(), v, mon, params); err != nil {
			d.abortLaunch(v)
		} else {
			nbd = &cookieNBD{Port: port}
			v.mu.Lock()
			m.NBD = true
			v.mu.Unlock()
			d.saveStatusLogged(v)
		}
	}
	if err != nil {
		v.mu.Lock()
		created := m.Created
		v.mu.Unlock()
		removeAll(created)
		v.mu.Lock()
		v.mig = nil
		if !v.active() && v.persistent {
			v.live = nil
		}
		v.mu.Unlock()
		v.endMigrationJob()
		d.dropIfTransient(v)
		return nil, "", nil, err
	}
	v.setMigPhase(m, phasePrepare)
	d.emit(v, driver.EventStarted, driver.EventStartedMigrated)
	d.faultAt(phasePrepare)
	return withCookieElem(d.makeCookieNBD(v, "", nbd), graphics), uri, v, nil
}

// prepareIncoming launches QEMU with -incoming defer and has it listen,
// or read the tunnel's pipe.
func (d *Driver) prepareIncoming(ctx context.Context, v *vm, params []driver.TypedParam, tunnel *os.File) (string, error) {
	if err := d.launch(ctx, v, true); err != nil {
		return "", err
	}
	v.mu.Lock()
	mon := v.mon
	v.setState(driver.StatePaused, driver.PausedMigration)
	v.pausedReason = driver.PausedUnknown
	v.mu.Unlock()
	if err := enableMigrationEvents(ctx, mon); err != nil {
		d.abortLaunch(v)
		return "", err
	}
	v.mu.Lock()
	flags := v.mig.Flags
	v.mu.Unlock()
	if err := applyMigSettings(ctx, mon, flags, params, partyDest); err != nil { // migrate_caps.go
		d.abortLaunch(v)
		return "", err
	}
	if err := d.setupMigrationTLS(ctx, mon, flags, true, ""); err != nil { // migrate_tls.go
		d.abortLaunch(v)
		return "", err
	}
	if tunnel != nil {
		if err := incomingFromPipe(ctx, mon, tunnel); err != nil {
			d.abortLaunch(v)
			return "", err
		}
		if err := d.saveStatus(v); err != nil {
			d.abortLaunch(v)
			return "", err
		}
		return "", nil
	}
	listen, host, fixedPort, err := incomingEndpoint(params)
	if err != nil {
		d.abortLaunch(v)
		return "", err
	}
	tried := map[int]bool{}
	for attempt := 0; ; attempt++ {
		port := fixedPort
		if port == 0 {
			var err error
			if port, err = d.reserveMigPort(listen, tried); err != nil {
				d.abortLaunch(v)
				return "", err
			}
			tried[port] = true
		}
		qu := "tcp:" + net.JoinHostPort(listen, strconv.Itoa(port))
		err := qmp.MigrateIncoming(ctx, mon, qu)
		if fixedPort == 0 {
			d.releaseMigPort(port) // QEMU holds it now, or nobody does
		}
		if err == nil {
			uri := "tcp:" + net.JoinHostPort(host, strconv.Itoa(port))
			v.mu.Lock()
			v.mig.URI = uri
			v.mu.Unlock()
			if err := d.saveStatus(v); err != nil {
				d.abortLaunch(v)
				return "", err
			}
			return uri, nil
		}
		if fixedPort != 0 || attempt >= 8 {
			d.abortLaunch(v)
			return "", qmpFailed("migrate-incoming", err)
		}
	}
}

// killIncoming stops the QEMU of a migration that will not finish, and
// undefines the guest if the migration defined it: the source keeps it.
func (d *Driver) killIncoming(v *vm, m *migration) {
	v.mu.Lock()
	active := v.active()
	v.mu.Unlock()
	if active {
		d.abortLaunch(v)
		d.emit(v, driver.EventStopped, driver.EventStoppedFailed)
		v.mu.Lock()
		if v.persistent {
			v.live = nil
		}
		v.mu.Unlock()
	}
	// Images the storage migration created here go with the guest.
	v.mu.Lock()
	created := m.Created
	m.Created = nil
	v.mu.Unlock()
	removeAll(created)
	v.mu.Lock()
	undefine := m.Defined && v.persistent
	m.Defined = false
	name := v.name
	v.mu.Unlock()
	if !undefine {
		return
	}
	if err := d.removeDef(name); err != nil && !os.IsNotExist(err) {
		d.log.Error("cannot undefine the guest of a failed incoming migration", "domain", name, "err", err)
		return
	}
	d.setAutostartFile(name, false)
	v.mu.Lock()
	v.persistent, v.def, v.autostart = false, nil, false
	v.mu.Unlock()
	d.emit(v, driver.EventUndefined, driver.EventUndefinedRemoved)
}

func (c *conn) DomainMigrateFinish3(params []driver.TypedParam, cookieIn []byte, flags uint32, cancelled bool) (driver.Domain, []byte, error) {
	d := c.d
	received := time.Now() // when the source's cookie arrived, for its clock offset
	name := migParam(params, migParamDestName)
	v := d.doms.byNameLookup(name)
	if v == nil {
		return driver.Domain{}, nil, virerr.New(virerr.FromQemu, virerr.ErrNoDomain, "no domain with matching name '%s'", name)
	}
	if flags&migratePostcopyResume != 0 {
		return c.resumeFinish(v, flags, cancelled) // migrate_resume.go
	}
	m, err := migrationOf(v, true)
	if err != nil {
		return driver.Domain{}, nil, err
	}
	if flags&migrateOffline != 0 {
		return d.offlineFinish(v, m, params, cookieIn, cancelled) // migrate_offline.go
	}
	fail := func(err error) (driver.Domain, []byte, error) {
		d.killIncoming(v, m)
		d.endMigration(v)
		d.dropIfTransient(v)
		return driver.Domain{}, nil, err
	}
	if cancelled {
		// The source's error stands; this one only says we cleaned up.
		return fail(errQEMU(virerr.ErrMigrateFinishOk, "migration of '%s' was cancelled", name))
	}
	v.setMigPhase(m, phaseFinish)
	d.saveStatusLogged(v)
	d.faultAt(phaseFinish)
	ctx := context.Background()
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	if mon == nil {
		return fail(errQEMU(virerr.ErrOperationFailed, "domain '%s' is not running", name))
	}
	// With --postcopy, the guest runs here as soon as QEMU switched
	// (migrate_postcopy.go).
	postcopy, err := waitMigrationSwitch(ctx, mon, m, flags&migratePostcopy != 0, "migration in job")
	if err != nil {
		return fail(err)
	}
	if m.NBD {
		stopNBDServer(ctx, mon)
	}
	// Only now is QEMU's device state the guest's.
	d.runPostStartHooks(v)
	if flags&migratePersistDest != 0 {
		if err := d.persistMigrated(v, m, params, cookieIn); err != nil {
			return fail(err)
		}
	}
	d.faultAt("finish3_persisted")
	if flags&migratePaused == 0 {
		reason := driver.RunningMigrated
		if postcopy {
			reason = driver.RunningPostcopy
		}
		if err := d.startCPUs(ctx, v, reason); err != nil {
			if postcopy && inPostcopy(v, m) {
				// Killing it would lose what the source no longer
				// has: it waits for a resume instead, as libvirt.
				d.endOrPark(v, m)
				return driver.Domain{}, nil, err
			}
			return fail(err)
		}
		d.faultAt("finish3_resumed")
		if postcopy {
			if err := d.finishPostcopyIn(ctx, v, mon, m); err != nil {
				// The guest runs only here now: it is not killed,
				// and waits for a resume (migrate_resume_state.go).
				d.endOrPark(v, m)
				return driver.Domain{}, nil, err
			}
		}
	} else {
		v.mu.Lock()
		v.setState(driver.StatePaused, driver.PausedUser)
		v.mu.Unlock()
		d.emit(v, driver.EventSuspended, driver.EventSuspendedPaused)
	}
	h := func() driver.Domain {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.handle()
	}()
	cookie := d.makeCookie(v, "")
	if !postcopy { // libvirt drops them after post-copy
		// The source's figures, when its cookie has them
		// (migrate_cookie_stats.go), else only the elapsed time.
		if ck, err := parseCookie(cookieIn); err == nil && ck.Stats != nil {
			d.keepCompleted(v, ck.Stats.statsParams(jobOperation(asyncMigrationIn), received, time.Now()))
		} else {
			d.recordCompleted(v, mon, asyncMigrationIn) // migrate_jobstats.go
		}
	}
	resetMigSettings(ctx, mon)
	dropMigrationTLS(ctx, mon, flags)
	d.endMigration(v)
	return h, cookie, nil
}

// persistMigrated defines the guest here (--persistent): the user's
// persistent XML, else the source's definition from the cookie, else the
// running one.
func (d *Driver) persistMigrated(v *vm, m *migration, params []driver.TypedParam, cookieIn []byte) error {
	pxml := migParam(params, migParamPersistentXML)
	if pxml == "" {
		if ck, err := parseCookie(cookieIn); err == nil && ck.PersistentXML != "" {
			pxml = ck.PersistentXML
		}
	}
	v.mu.Lock()
	live, wasPersistent := v.live, v.persistent
	v.mu.Unlock()
	var def *conf.Domain
	var err error
	if pxml != "" {
		def, err = parseDef(pxml, false)
	} else {
		var b []byte
		if b, err = d.formatMigratable(live); err == nil {
			def, err = parseDef(string(b), false)
		}
	}
	if err != nil {
		return errQEMU(virerr.ErrMigratePersistFailed, "%v", err)
	}
	def.Name = v.name
	if def.UUID != v.uuid {
		return errQEMU(virerr.ErrMigratePersistFailed, "%s", fmt.Sprintf("persistent XML names uuid %s, not %s", def.UUID, v.uuid))
	}
	if !wasPersistent {
		// Recorded before the definition is written, so that a daemon
		// killed in between still undoes it if the migration fails.
		v.mu.Lock()
		m.Defined = true
		v.mu.Unlock()
		d.saveStatusLogged(v)
	}
	if err := d.saveDef(def); err != nil {
		return errQEMU(virerr.ErrMigratePersistFailed, "%v", err)
	}
	v.mu.Lock()
	v.def, v.persistent = def, true
	v.mu.Unlock()
	detail := driver.EventDefinedAdded
	if wasPersistent {
		detail = driver.EventDefinedUpdated
	}
	d.emit(v, driver.EventDefined, detail)
	return nil
}

// claimIncoming finds the guest an incoming migration (live or offline)
// lands in, under its --dname, or registers a new one, and takes its
// migration-in job. A guest already there must be inactive and have the
// same UUID, with libvirt's errors. It returns with v.mu held.
func (c *conn) claimIncoming(def *conf.Domain, params []driver.TypedParam) (*vm, error) {
	d := c.d
	if dname := migParam(params, migParamDestName); dname != "" {
		def.Name = dname
	}
	v := d.doms.byNameLookup(def.Name)
	created := v == nil
	if created {
		v = newVM(def, false)
		if err := d.doms.add(v); err != nil {
			return nil, err
		}
	}
	if err := v.beginMigrationJob(c.waitCtx(), asyncMigrationIn, c.owner("migration in")); err != nil {
		if created {
			d.doms.remove(v)
		}
		return nil, err
	}
	v.mu.Lock()
	var err error
	switch {
	case v.active():
		err = errQEMU(virerr.ErrOperationInvalid, "domain '%s' is already active", def.Name)
	case v.uuid != def.UUID:
		err = errQEMU(virerr.ErrOperationFailed, "domain '%s' is already defined with uuid %s", def.Name, v.uuid)
	}
	if err != nil {
		v.mu.Unlock()
		v.endMigrationJob()
		if created {
			d.dropIfTransient(v)
		}
		return nil, err
	}
	return v, nil
}

// incomingEndpoint is where an incoming migration listens (the listen
// address parameter, else the configured one) and the host and port it
// announces: those of the migration URI when the client gave one (a
// fixed port), else this host's name and a port from the range (0).
func incomingEndpoint(params []driver.TypedParam) (listen, host string, fixedPort int, err error) {
	listen = migParam(params, migParamListenAddress)
	host = migAdvertisedHost()
	if u := migParam(params, migParamURI); u != "" {
		if host, fixedPort, err = parseMigrateURI(u); err != nil {
			return "", "", 0, err
		}
	}
	if listen == "" {
		listen = migListenAddress()
	}
	return listen, host, fixedPort, nil
}
