package qemu

import (
	"govirt/driver"
	"govirt/virerr"
)

// Offline migration (virsh migrate --offline --persistent), as libvirt
// 9.0: only the definition moves. Begin works on a guest in any state
// and hands over its XML, Prepare creates the guest on the destination
// without starting QEMU, the client skips Perform (and so does a
// peer-to-peer source), Finish defines the guest there, and Confirm, with
// --undefinesource, undefines it here if it does not run.

// VIR_DRV_FEATURE_MIGRATION_OFFLINE.
const featureMigrationOffline = 12

// offlineBegin is Begin with --offline.
func (c *conn) offlineBegin(h driver.Domain, params []driver.TypedParam, flags uint32, owner *conn) (string, []byte, error) {
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return "", nil, err
	}
	if err := v.beginMigrationJob(c.waitCtx(), asyncMigrationOut, c.owner("migration out")); err != nil {
		return "", nil, err
	}
	v.mu.Lock()
	err = v.goneErr()
	def, live, active, state := v.def, v.live, v.active(), v.state
	v.mu.Unlock()
	if err != nil {
		v.endMigrationJob()
		return "", nil, err
	}
	out := def
	if active && live != nil {
		out = live
	}
	if dxml := migParam(params, migParamDestXML); dxml != "" {
		nd, err := parseDef(dxml, false)
		if err != nil {
			v.endMigrationJob()
			return "", nil, err
		}
		if nd.UUID != v.uuid {
			v.endMigrationJob()
			return "", nil, errQEMU(virerr.ErrInvalidArg, "target domain uuid %s does not match source %s", nd.UUID, v.uuid)
		}
		out = nd
	}
	if out == nil {
		v.endMigrationJob()
		return "", nil, errQEMU(virerr.ErrOperationInvalid, "%s", "domain has no definition to migrate")
	}
	xml, err := d.formatMigratable(out)
	if err != nil {
		v.endMigrationJob()
		return "", nil, err
	}
	m := newMigration(false, flags, owner)
	m.Phase, m.PreState, m.busy = phaseBegin, state, owner == nil
	v.mu.Lock()
	v.mig = m
	v.mu.Unlock()
	return string(xml), d.makeCookie(v, ""), nil
}

// offlinePrepare is Prepare with --offline: the guest exists here,
// inactive, until Finish defines it.
func (c *conn) offlinePrepare(params []driver.TypedParam, cookieIn []byte, flags uint32) ([]byte, string, *vm, error) {
	d := c.d
	dxml := migParam(params, migParamDestXML)
	if dxml == "" {
		return nil, "", nil, errQEMU(virerr.ErrInvalidArg, "no domain XML passed")
	}
	def, err := parseDef(dxml, false)
	if err != nil {
		return nil, "", nil, err
	}
	v, err := c.claimIncoming(def, params)
	if err != nil {
		return nil, "", nil, err
	}
	m := newMigration(true, flags, c.root())
	m.Phase, m.Peer = phasePrepare, cookiePeer(cookieIn)
	m.offlineDef = def
	v.mig = m
	v.mu.Unlock()
	// The client only checks that Prepare named a URI; nothing listens.
	return d.makeCookie(v, ""), "tcp:" + migAdvertisedHost(), v, nil
}

// offlineFinish is Finish with --offline: the guest is defined here.
func (d *Driver) offlineFinish(v *vm, m *migration, params []driver.TypedParam, cookieIn []byte, cancelled bool) (driver.Domain, []byte, error) {
	v.mu.Lock()
	def := m.offlineDef
	m.offlineDef = nil
	v.mu.Unlock()
	if !cancelled && def != nil {
		// persistMigrated reads the definition the migration brought.
		v.mu.Lock()
		v.live = def
		v.mu.Unlock()
		err := d.persistMigrated(v, m, params, cookieIn)
		v.mu.Lock()
		v.live = nil
		v.mu.Unlock()
		if err == nil {
			v.mu.Lock()
			h := v.handle()
			v.mu.Unlock()
			cookie := d.makeCookie(v, "")
			d.endMigration(v)
			return h, cookie, nil
		}
		d.endMigration(v)
		d.dropIfTransient(v)
		return driver.Domain{}, nil, err
	}
	d.endMigration(v)
	d.dropIfTransient(v)
	return driver.Domain{}, nil, errQEMU(virerr.ErrMigrateFinishOk, "migration of '%s' was cancelled", v.name)
}

// offlineConfirm is Confirm with --offline: with --undefinesource the
// guest is undefined here unless it runs.
func (d *Driver) offlineConfirm(v *vm, flags uint32, cancelled bool) error {
	d.endMigration(v)
	v.mu.Lock()
	undefine := !cancelled && flags&migrateUndefineSource != 0 && !v.active() && v.persistent
	name := v.name
	v.mu.Unlock()
	if !undefine {
		return nil
	}
	if err := d.removeDef(name); err != nil {
		return err
	}
	d.setAutostartFile(name, false)
	v.mu.Lock()
	v.persistent, v.def, v.autostart = false, nil, false
	v.mu.Unlock()
	d.emit(v, driver.EventUndefined, driver.EventUndefinedRemoved)
	d.dropIfTransient(v)
	return nil
}

// undoOffline ends an offline migration its client left half-done.
func (d *Driver) undoOffline(v *vm, m *migration) {
	v.mu.Lock()
	m.offlineDef = nil
	v.mu.Unlock()
	d.endMigration(v)
	d.dropIfTransient(v)
}
