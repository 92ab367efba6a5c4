package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"govirt/drivers/internal/safepath"
	"io"
	"os"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/guestcpu"
	"govirt/qmp"
	"govirt/virerr"
)

// A save image is a small header, the domain XML, then QEMU's migration
// stream written straight to the file through a passed descriptor.
var saveMagic = []byte("GovirtQemuSave\n\x00")

// savePartialMagic marks an image whose save has not finished, as
// libvirt's "LibvirtQemudPart": the header is written with it and turned
// into saveMagic only once QEMU's stream is complete and on disk, so an
// image cut short by a crash of QEMU or govirtd is never restored.
var savePartialMagic = []byte("GovirtQemuPart\n\x00")

// errSaveIncomplete is libvirt's error for a partial image; a managed
// save image in that state is dropped and the guest boots instead.
var errSaveIncomplete = virerr.New(virerr.FromQemu, virerr.ErrOperationFailed, "save image is incomplete")

// Header versions: 1 is magic, version, XML length, XML, then the
// stream; 2 (written since) adds libvirt's room for a longer XML
// (save-image-define) and whether the guest ran when it was saved:
// magic, version, room, was-running, XML length, XML, zeros up to room.
const (
	saveVersion1 = 1
	saveVersion  = 2
	// saveXMLPad is the room left after the XML, as libvirt's 64 KiB.
	saveXMLPad = 64 * 1024
)

// saveHeader is what a save image says before its stream.
type saveHeader struct {
	version    uint32
	xml        []byte
	wasRunning bool
	room       uint32 // bytes reserved for the XML (version 2)
}

// writeSaveHeader writes a version 2 header marked partial; f is at
// the start of the stream afterwards.
func writeSaveHeader(f *os.File, xml []byte, wasRunning bool) error {
	h := saveHeader{version: saveVersion, xml: xml, wasRunning: wasRunning, room: uint32(len(xml) + saveXMLPad)}
	_, err := f.Write(h.encode(savePartialMagic))
	return err
}

// encode is the header with magic, padded to its room.
func (h *saveHeader) encode(magic []byte) []byte {
	var hdr bytes.Buffer
	hdr.Write(magic)
	binary.Write(&hdr, binary.BigEndian, h.version)
	if h.version == saveVersion1 {
		binary.Write(&hdr, binary.BigEndian, uint32(len(h.xml)))
		hdr.Write(h.xml)
		return hdr.Bytes()
	}
	run := uint32(0)
	if h.wasRunning {
		run = 1
	}
	binary.Write(&hdr, binary.BigEndian, h.room)
	binary.Write(&hdr, binary.BigEndian, run)
	binary.Write(&hdr, binary.BigEndian, uint32(len(h.xml)))
	hdr.Write(h.xml)
	hdr.Write(make([]byte, int(h.room)-len(h.xml)))
	return hdr.Bytes()
}

// saveCorruptError is an image whose header cannot be read: a managed
// save that a killed daemon left before its header was written is one,
// and is dropped like an incomplete one (libvirt's unlink_corrupt).
type saveCorruptError struct{ err *virerr.Error }

func (e *saveCorruptError) Error() string { return e.err.Error() }
func (e *saveCorruptError) Unwrap() error { return e.err }

func corruptSave(format string, args ...any) error {
	return &saveCorruptError{virerr.New(virerr.FromQemu, virerr.ErrOperationFailed, format, args...)}
}

// unusableManagedSave reports whether a managed save image is to be
// dropped and the guest booted instead: incomplete or unreadable.
func unusableManagedSave(err error) bool {
	var c *saveCorruptError
	return err == errSaveIncomplete || errors.As(err, &c)
}

// readSaveHeader returns the XML and leaves f at the migration stream.
func readSaveHeader(f *os.File) ([]byte, error) {
	h, err := readSaveImage(f)
	if err != nil {
		return nil, err
	}
	return h.xml, nil
}

// readSaveImage reads the header and leaves f at the migration stream.
func readSaveImage(f *os.File) (*saveHeader, error) {
	r := bufio.NewReader(io.LimitReader(f, 64<<20))
	magic := make([]byte, len(saveMagic))
	if _, err := io.ReadFull(r, magic); err == nil && bytes.Equal(magic, savePartialMagic) {
		return nil, errSaveIncomplete
	}
	if !bytes.Equal(magic, saveMagic) {
		return nil, corruptSave("image magic is incorrect")
	}
	h := &saveHeader{wasRunning: true}
	if err := binary.Read(r, binary.BigEndian, &h.version); err != nil || (h.version != saveVersion && h.version != saveVersion1) {
		return nil, corruptSave("unsupported save image version in %s", f.Name())
	}
	fixed := 8
	if h.version == saveVersion {
		var run uint32
		if binary.Read(r, binary.BigEndian, &h.room) != nil || binary.Read(r, binary.BigEndian, &run) != nil || h.room > 16<<20 {
			return nil, corruptSave("corrupt save image %s", f.Name())
		}
		h.wasRunning = run != 0
		fixed = 16
	}
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil || n > 16<<20 || (h.version == saveVersion && n > h.room) {
		return nil, corruptSave("corrupt save image %s", f.Name())
	}
	h.xml = make([]byte, n)
	if _, err := io.ReadFull(r, h.xml); err != nil {
		return nil, corruptSave("corrupt save image %s", f.Name())
	}
	if h.version == saveVersion1 {
		h.room = n
	}
	off := int64(len(saveMagic) + fixed + int(h.room))
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return h, nil
}

func (d *Driver) managedSavePath(name string) (string, error) {
	return safepath.Join(d.dirs.save, name, ".save")
}

func (d *Driver) hasManagedSave(name string) bool {
	path, err := d.managedSavePath(name)
	if err != nil {
		return false
	}
	_, err = os.Stat(path)
	return err == nil
}

func (d *Driver) removeManagedSave(name string) {
	if path, err := d.managedSavePath(name); err == nil {
		os.Remove(path)
	}
}

// fdMonitor is a monitor that can pass descriptors (qmp.Monitor is one).
type fdMonitor interface {
	ExecuteWithFiles(ctx context.Context, cmd string, args, ret any, files ...*os.File) error
}

// saveTo pauses the guest, streams its state into path and stops QEMU.
// The caller holds v's save (async) job. The file is opened outside any
// sync job: opening may block (a FIFO, a hung file server), and destroy or
// the handling of QEMU's death must stay possible meanwhile.
func (d *Driver) saveTo(ctx context.Context, v *vm, path, dxml string, flags uint32) error {
	v.mu.Lock()
	active, broken, mon, live, state := v.active(), v.brokenMsg, v.mon, v.live, v.state
	run, origCPU := v.run, v.origCPU
	v.mu.Unlock()
	switch {
	case !active:
		return errNotRunning()
	case broken != "":
		return errQEMU(virerr.ErrOperationFailed, "%s", broken)
	case mon == nil:
		return errQEMU(virerr.ErrOperationInvalid, "monitor of domain '%s' is not connected", v.name)
	}
	fm, ok := mon.(fdMonitor)
	if !ok {
		return errQEMU(virerr.ErrOperationUnsupported, "monitor cannot pass descriptors")
	}
	out := live
	var err error
	if origCPU != nil {
		// The image carries the CPU the guest was started with, as
		// libvirt's (the restore folds QEMU's CPU in again); a user's
		// definition is checked against that migratable form too
		// (qemuDomainCheckABIStability formats the guest with origCPU).
		if out, err = guestcpu.WithCPU(live, origCPU); err != nil {
			return err
		}
	}
	if dxml != "" {
		// qemuDomainSaveInternal: the image may carry a definition of
		// the user's, if its ABI is the running guest's.
		if out, err = d.imageDef(out, dxml); err != nil {
			return err
		}
	}
	xml, err := d.formatMigratable(out)
	if err != nil {
		return err
	}
	runCtx, _ := v.runContext()
	// A failed save must not leave a partial image behind that a later
	// start or restore would take for a complete one; as libvirt, only a
	// file the save created is removed.
	_, statErr := os.Lstat(path)
	created := os.IsNotExist(statErr)
	f, err := openSaveFile(runCtx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	saved := false
	defer func() {
		if !saved && created {
			os.Remove(path)
		}
	}()
	wasRunning := state == driver.StateRunning
	if flags&saveRunning != 0 {
		wasRunning = true
	} else if flags&savePaused != 0 {
		wasRunning = false
	}
	if err := writeSaveHeader(f, xml, wasRunning); err != nil {
		return err
	}
	if err := v.nested(ctx); err != nil {
		return err
	}
	defer v.job.end()
	v.mu.Lock()
	if v.run != run || !v.active() {
		v.mu.Unlock()
		os.Remove(path)
		return errNoLongerRunning()
	}
	v.jobPreState = state
	v.mu.Unlock()
	d.setJobPhase(v, "saving")
	wasRunning = state == driver.StateRunning
	if wasRunning {
		v.mu.Lock()
		v.pausedReason = driver.PausedSave
		v.mu.Unlock()
		if err := qmp.Stop(ctx, mon); err != nil {
			return qmpFailed("pausing for save", err)
		}
	}
	undo := func(err error) error {
		os.Remove(path)
		if wasRunning {
			d.startCPUs(ctx, v, driver.RunningSaveCanceled)
		}
		return err
	}
	if err := qmp.Getfd(ctx, fm, "govirt-save", f); err != nil {
		return undo(qmpFailed("passing the save file", err))
	}
	if err := qmp.Migrate(ctx, mon, "fd:govirt-save"); err != nil {
		return undo(qmpFailed("save", err))
	}
	if err := waitMigration(ctx, mon); err != nil {
		return undo(err)
	}
	if err := f.Sync(); err != nil {
		return undo(err)
	}
	// Complete and on disk: only now is the image marked restorable.
	if _, err := f.WriteAt(saveMagic, 0); err != nil {
		return undo(err)
	}
	if err := f.Sync(); err != nil {
		return undo(err)
	}
	v.mu.Lock()
	v.beingDestroyed = true
	proc := v.proc
	v.mu.Unlock()
	proc.kill(killGrace)
	saved = true
	d.cleanupStopped(v, driver.ShutoffSaved)
	d.emit(v, driver.EventStopped, driver.EventStoppedSaved)
	d.dropIfTransient(v)
	return nil
}

// openSaveFile creates the save file. Opening can block for good (a FIFO
// nobody reads, a dead file server): when the guest's run ends meanwhile
// (destroyed, crashed) the save fails at once, ending its job so the
// guest can start again; the open, left behind, closes what it gets.
func openSaveFile(runCtx context.Context, path string) (*os.File, error) {
	return createFileCtx(runCtx, path, func(err error) error {
		return errQEMU(virerr.ErrSystemError, "cannot create save file %s: %v", path, err)
	})
}

// createFileCtx is openSaveFile's open with the caller's error.
func createFileCtx(runCtx context.Context, path string, onErr func(error) error) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		ch <- result{f, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, onErr(r.err)
		}
		return r.f, nil
	case <-runCtx.Done():
		go func() {
			if r := <-ch; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, errNoLongerRunning()
	}
}

// waitMigration polls query-migrate until QEMU finished or failed.
func waitMigration(ctx context.Context, mon monitor) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	return waitMigrationErr(ctx, qmp.WaitMigration(wctx, mon, nil, 20*time.Millisecond))
}

// waitMigrationErr is libvirt's error for how a migration to file ended.
func waitMigrationErr(ctx context.Context, err error) error {
	var me *qmp.MigrationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me):
		return errQEMU(virerr.ErrOperationFailed, "migration to file %s: %s", me.Status, me.Desc)
	case err == context.DeadlineExceeded && ctx.Err() == nil:
		return errQEMU(virerr.ErrOperationTimeout, "saving the guest did not finish")
	}
	return qmpFailed("query-migrate", err)
}

// restoreMode is how a restored guest comes back (qemuSaveImageStartVM):
// running, paused because the caller asked (start --paused), or paused
// because it was not running when saved (or restore --paused). A paused
// guest keeps the reason the incoming stream left (migration) and is
// announced suspended with the matching detail.
type restoreMode int

const (
	restoreRun restoreMode = iota
	restoreStartPaused
	restoreWasPaused
)

// restoreModeOf is libvirt's choice: run only if the image says it ran
// and the caller did not ask for a pause.
func restoreModeOf(wasRunning, startPaused bool) restoreMode {
	switch {
	case wasRunning && !startPaused:
		return restoreRun
	case startPaused:
		return restoreStartPaused
	}
	return restoreWasPaused
}

// restoreFrom starts v from a save image: QEMU waits for an incoming
// stream, gets it from the file, and then runs (or stays paused).
func (d *Driver) restoreFrom(ctx context.Context, v *vm, f *os.File, mode restoreMode) error {
	if err := d.startIncoming(ctx, v, f); err != nil {
		return err
	}
	// Only now, with the incoming stream complete, is QEMU's device state
	// (tray, pty paths...) the guest's and worth reading back.
	d.runPostStartHooks(v)
	if mode != restoreRun {
		v.mu.Lock()
		if !v.active() {
			v.mu.Unlock()
			return errNoLongerRunning()
		}
		v.setState(driver.StatePaused, driver.PausedMigration)
		v.mu.Unlock()
		d.emit(v, driver.EventStarted, driver.EventStartedRestored)
		detail := driver.EventSuspendedRestored
		if mode == restoreStartPaused {
			detail = driver.EventSuspendedPaused
		}
		d.emit(v, driver.EventSuspended, detail)
		return d.saveStatus(v)
	}
	if err := d.startCPUs(ctx, v, driver.RunningRestored); err != nil {
		return err
	}
	d.emit(v, driver.EventStarted, driver.EventStartedRestored)
	return d.saveStatus(v)
}

func (c *conn) DomainSave(h driver.Domain, path, dxml string, flags uint32) error {
	if err := checkFlagsMask(flags, saveBypassCache|saveRunning|savePaused, "qemuDomainSaveFlags"); err != nil {
		return err
	}
	ctx := context.Background()
	v, err := c.asyncVM(ctx, h, asyncSave, "save", defaultJobMask)
	if err != nil {
		return err
	}
	defer v.job.endAsync()
	return c.d.saveTo(ctx, v, path, dxml, flags)
}

func (c *conn) DomainManagedSave(h driver.Domain, flags uint32) error {
	if err := checkFlagsMask(flags, saveBypassCache|saveRunning|savePaused, "qemuDomainManagedSave"); err != nil {
		return err
	}
	ctx := context.Background()
	v, err := c.asyncVM(ctx, h, asyncSave, "managedsave", defaultJobMask)
	if err != nil {
		return err
	}
	defer v.job.endAsync()
	v.mu.Lock()
	persistent, name, active := v.persistent, v.name, v.active()
	v.mu.Unlock()
	if !active {
		return errNotRunning()
	}
	if !persistent {
		return errQEMU(virerr.ErrOperationInvalid, "cannot do managed save for transient domain")
	}
	path, err := c.d.managedSavePath(name)
	if err != nil {
		return err
	}
	return c.d.saveTo(ctx, v, path, "", flags)
}

func (c *conn) DomainHasManagedSaveImage(h driver.Domain, _ uint32) (bool, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return false, err
	}
	return c.d.hasManagedSave(v.name), nil
}

func (c *conn) DomainManagedSaveRemove(h driver.Domain, _ uint32) error {
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	if !c.d.hasManagedSave(v.name) {
		return errQEMU(virerr.ErrOperationInvalid, "domain '%s' has no managed save image", v.name)
	}
	c.d.removeManagedSave(v.name)
	return nil
}

func (c *conn) DomainRestore(path, dxml string, flags uint32) error {
	if err := checkFlagsMask(flags, saveBypassCache|saveRunning|savePaused|saveResetNVRAM, "qemuDomainRestoreFlags"); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot open save file %s: %v", path, err)
	}
	defer f.Close()
	hdr, err := readSaveImage(f)
	if err != nil {
		return err
	}
	def, err := conf.ParseDomain(hdr.xml, 0)
	if err != nil {
		return err
	}
	if dxml != "" {
		if def, err = c.d.imageDef(def, dxml); err != nil {
			return err
		}
	}
	d := c.d
	ctx := context.Background()
	v := d.doms.byNameLookup(def.Name)
	if v == nil {
		// As createXML: the job is taken before anyone can see the guest.
		v = newVM(def, false)
		if err := v.job.beginAsync(ctx, asyncStart, c.owner("restore"), defaultJobMask); err != nil {
			return err
		}
		defer v.job.endAsync()
		if err := d.doms.add(v); err != nil {
			return err
		}
	} else if v.uuid != def.UUID {
		return errQEMU(virerr.ErrOperationFailed, "domain '%s' already exists with uuid %s", def.Name, v.uuid)
	} else {
		if err := v.job.beginAsync(c.waitCtx(), asyncStart, c.owner("restore"), defaultJobMask); err != nil {
			return err
		}
		defer v.job.endAsync()
		v.mu.Lock()
		err := v.goneErr()
		v.mu.Unlock()
		if err != nil {
			return err
		}
	}
	// virsh restore --running/--paused override what the image says.
	wasRunning := hdr.wasRunning
	if flags&saveRunning != 0 {
		wasRunning = true
	} else if flags&savePaused != 0 {
		wasRunning = false
	}
	err = d.restoreAs(context.Background(), v, def, f, restoreModeOf(wasRunning, false))
	if err != nil {
		d.dropIfTransient(v)
	}
	return err
}

// restoreAs runs v from the save image f with def, the definition the
// image carries, as its live definition: it describes the devices the
// saved state has (a disk hotplugged before the save, say), which the
// persistent definition may lack and QEMU would then refuse the stream.
// A persistent guest keeps its own definition, as libvirt's restore.
func (d *Driver) restoreAs(ctx context.Context, v *vm, def *conf.Domain, f *os.File, mode restoreMode) error {
	v.mu.Lock()
	if v.active() {
		v.mu.Unlock()
		return errAlreadyRunning()
	}
	v.live = def
	v.mu.Unlock()
	err := d.restoreFrom(ctx, v, f, mode)
	if err != nil {
		v.mu.Lock()
		if !v.active() && v.live == def {
			v.live = nil
		}
		v.mu.Unlock()
	}
	return err
}
