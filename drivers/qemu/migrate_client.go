package qemu

import (
	"context"

	"govirt/driver"
	"govirt/virerr"
)

// A migration is driven by one client connection across several calls.
// When that connection closes, libvirt's close callbacks undo what it
// left half-done; so does govirt: between steps at once, and during a
// step (Begin, Prepare, Perform) as soon as the step ends.

func (c *conn) stepStart() {
	c = c.root()
	c.stepMu.Lock()
	c.stepsActive++
	c.stepMu.Unlock()
}

// stepEnd reports whether c closed while the step ran.
func (c *conn) stepEnd() bool {
	c = c.root()
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	closed := c.stepsClosed
	if c.stepsActive--; c.stepsActive <= 0 {
		c.stepsActive, c.stepsClosed = 0, false
	}
	return closed
}

var errClientClosed = virerr.New(virerr.FromQemu, virerr.ErrOperationAborted, "migration: the client closed the connection")

func (c *conn) DomainMigrateBegin3(h driver.Domain, params []driver.TypedParam, flags uint32) (string, []byte, error) {
	c.stepStart()
	xml, cookie, err := c.migrateBegin3(h, params, flags, c.root())
	if c.stepEnd() && err == nil {
		c.d.undoOrphan(h, nil)
		return "", nil, errClientClosed
	}
	return xml, cookie, err
}

func (c *conn) DomainMigratePrepare3(params []driver.TypedParam, cookieIn []byte, flags uint32) ([]byte, string, error) {
	c.stepStart()
	cookie, uri, v, err := c.migratePrepare3(params, cookieIn, flags, nil)
	if c.stepEnd() && err == nil {
		c.d.undoOrphan(driver.Domain{}, v)
		return nil, "", errClientClosed
	}
	return cookie, uri, err
}

func (c *conn) DomainMigratePerform3(h driver.Domain, dconnURI string, params []driver.TypedParam, cookieIn []byte, flags uint32) ([]byte, error) {
	c.stepStart()
	cookie, err := c.migratePerform3(h, dconnURI, params, cookieIn, flags)
	if c.stepEnd() && err == nil {
		c.d.undoOrphan(h, nil)
		return nil, errClientClosed
	}
	return cookie, err
}

// undoOrphan undoes the migration of h (or v) after its client went.
func (d *Driver) undoOrphan(h driver.Domain, v *vm) {
	if v == nil {
		var err error
		if v, err = d.doms.get(h); err != nil {
			return
		}
	}
	v.mu.Lock()
	m := v.mig
	ok := m != nil && !m.busy
	if ok {
		m.busy = true
	}
	v.mu.Unlock()
	if ok {
		d.undoMigration(v, m)
	}
}

// undoMigration: an outgoing guest runs again, an incoming one is killed.
func (d *Driver) undoMigration(v *vm, m *migration) {
	d.log.Warn("client closed during migration; undoing it", "domain", v.name, "phase", m.Phase)
	switch {
	case m.Flags&migrateOffline != 0:
		d.undoOffline(v, m) // migrate_offline.go
		return
	case inPostcopy(v, m):
		// Neither side has the whole guest: both keep what they have,
		// in the post-copy failed state, waiting for a resume
		// (migrate_resume_state.go).
		d.endOrPark(v, m)
		d.dropIfTransient(v)
		return
	case m.Incoming:
		d.killIncoming(v, m)
	case m.Phase == phasePerformed && m.Peer != "":
		// QEMU completed: the destination may run the guest already
		// (libvirt leaves it paused for a third party); its daemon is
		// asked, in the background, whether it does.
		d.settle(context.Background(), v, m, 0, false)
		return
	default:
		d.restoreSource(context.Background(), v, m)
	}
	d.endMigration(v)
	d.dropIfTransient(v)
}

// migrationConnClosed undoes the migrations c left between steps, and
// marks the step c is running, if any, to be undone when it ends.
func (d *Driver) migrationConnClosed(c *conn) {
	c.stepMu.Lock()
	if c.stepsActive > 0 {
		c.stepsClosed = true
	}
	c.stepMu.Unlock()
	for _, v := range d.doms.all() {
		v.mu.Lock()
		m := v.mig
		mine := m != nil && m.owner == c && !m.busy
		if mine {
			m.busy = true
		}
		v.mu.Unlock()
		if mine {
			d.undoMigration(v, m)
		}
	}
}
