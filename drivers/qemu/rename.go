package qemu

import (
	"os"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// DomainRename is qemuDomainRename: an inactive persistent guest without
// a managed save image takes a new name. Its definition file, autostart
// marker and snapshot metadata move to the new name; a UEFI varstore
// govirt named after the guest moves with it (libvirt writes the store's
// path into the definition, so there the guest keeps its store too).
// Clients see the guest undefined under the old name and defined under
// the new one, both with detail "renamed", as libvirt sends them.
func (c *conn) DomainRename(h driver.Domain, newName string, flags uint32) error {
	if err := checkFlagsMask(flags, 0, "qemuDomainRename"); err != nil {
		return err
	}
	d := c.d
	v, err := c.jobVM(h, "rename")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, persistent, oldName, def := v.active(), v.persistent, v.name, v.def
	v.mu.Unlock()
	switch {
	case active:
		return errQEMU(virerr.ErrOperationInvalid, "cannot rename active domain")
	case !persistent || def == nil:
		return errQEMU(virerr.ErrOperationInvalid, "cannot rename a transient domain")
	case d.hasManagedSave(oldName):
		return errQEMU(virerr.ErrOperationInvalid, "domain with a managed saved state can't be renamed")
	case oldName == newName:
		return errQEMU(virerr.ErrOperationInvalid, "Can't rename domain to itself")
	}
	d.defMu.Lock()
	defer d.defMu.Unlock()
	if o := d.doms.byNameLookup(newName); o != nil {
		return errQEMU(virerr.ErrOperationInvalid, "domain with name '%s' already exists", newName)
	}
	if strings.Contains(newName, "/") {
		return errQEMU(virerr.ErrXMLError, "name %s cannot contain '/'", newName)
	}
	// Every path below is built from the new name through safepath; one
	// it refuses fails the rename before anything changed.
	newDefPath, err := d.defPath(newName)
	if err != nil {
		return err
	}
	if _, err := d.autostartPath(newName); err != nil {
		return err
	}
	next := def.Clone()
	next.Name = newName
	oldNVRAM, newNVRAM := "", ""
	if derivedNVRAM(d, def) {
		oldNVRAM, newNVRAM = d.nvramOf(def), d.nvramOf(next)
	}
	oldSnaps, _ := d.snapDir(oldName)
	newSnaps, snapErr := d.snapDir(newName)
	if _, err := os.Stat(oldSnaps); oldSnaps != "" && err == nil && snapErr != nil {
		return snapErr
	}
	if err := d.saveDef(next); err != nil {
		return err
	}
	undo := []func(){func() { os.Remove(newDefPath) }}
	rollback := func(err error) error {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return err
	}
	v.mu.Lock()
	autostart := v.autostart
	v.mu.Unlock()
	if autostart {
		if err := d.setAutostartFile(newName, true); err != nil {
			return rollback(err)
		}
		undo = append(undo, func() { d.setAutostartFile(newName, false) })
	}
	if oldSnaps != "" && newSnaps != "" {
		if _, err := os.Stat(oldSnaps); err == nil {
			os.RemoveAll(newSnaps) // qemuDomainNamePathsCleanup of the new name
			if err := os.Rename(oldSnaps, newSnaps); err != nil {
				return rollback(errQEMU(virerr.ErrSystemError, "cannot move snapshot metadata to %s: %v", newSnaps, err))
			}
			undo = append(undo, func() { os.Rename(newSnaps, oldSnaps) })
		}
	}
	if oldNVRAM != "" && newNVRAM != "" && oldNVRAM != newNVRAM {
		if _, err := os.Stat(oldNVRAM); err == nil {
			if err := os.Rename(oldNVRAM, newNVRAM); err != nil {
				return rollback(errQEMU(virerr.ErrSystemError, "cannot move nvram %s to %s: %v", oldNVRAM, newNVRAM, err))
			}
			undo = append(undo, func() { os.Rename(newNVRAM, oldNVRAM) })
		}
	}
	if err := d.doms.rename(v, newName); err != nil {
		return rollback(err)
	}
	v.mu.Lock()
	v.def, v.last = next, next
	newH := v.handle()
	v.mu.Unlock()
	// The old name's files go last: until here a failure left the guest
	// as it was.
	if err := d.removeDef(oldName); err != nil {
		d.log.Warn("cannot remove old definition after rename", "domain", oldName, "err", err)
	}
	oldH := newH
	oldH.Name, oldH.ID = oldName, -1
	d.bus.Publish(driver.DomainEvent{ID: driver.EventIDLifecycle, Dom: oldH, Event: driver.EventUndefined, Detail: driver.EventUndefinedRenamed})
	d.bus.Publish(driver.DomainEvent{ID: driver.EventIDLifecycle, Dom: newH, Event: driver.EventDefined, Detail: driver.EventDefinedRenamed})
	return nil
}

// derivedNVRAM reports whether the guest's varstore path is one govirt
// derives from its name (no <nvram> written in the definition).
func derivedNVRAM(d *Driver, def *conf.Domain) bool {
	os := def.Tree().Child("os")
	return os != nil && os.Child("nvram") == nil && d.nvramOf(def) != ""
}
