package storagepool

import (
	"errors"
	"fmt"
	"govirt/drivers/internal/safepath"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Volume create flags (virStorageVolCreateFlags).
const (
	createPreallocMetadata = 1 << 0
	createReflink          = 1 << 1
	createValidate         = 1 << 2
)

// fileFormats are the volume formats of file-based pools
// (virStorageFileFormat), by name.
var fileFormats = map[string]bool{"raw": true, "dir": true, "bochs": true, "cloop": true, "dmg": true,
	"iso": true, "vpc": true, "vdi": true, "fat": true, "vhd": true, "ploop": true, "cow": true,
	"qcow": true, "qcow2": true, "qed": true, "vmdk": true}

// volReq is a volume to create, from its XML.
type volReq struct {
	name, path    string
	format        string
	capacity      uint64
	allocation    uint64
	capacitySet   bool
	backing       string
	backingFormat string
	perms         perms
	enc           *volEncryption // <target><encryption> (volencrypt.go)
}

func parseVolReq(pd *poolDef, doc string, flags uint32, needCapacity bool) (*volReq, error) {
	var pf conf.ParseFlags
	if flags&createValidate != 0 {
		pf |= conf.ParseValidate
	}
	def, err := conf.ParseStorageVolume([]byte(doc), pf)
	if err != nil {
		return nil, err
	}
	if needCapacity && !def.CapacitySet {
		return nil, errStorage(virerr.ErrXMLError, "%s", "missing capacity element")
	}
	r := &volReq{name: def.Name, format: def.TargetFormat, capacity: def.Capacity, allocation: def.Allocation,
		capacitySet: def.CapacitySet, backing: def.BackingPath, backingFormat: def.BackingFormat}
	if err := backendFor(pd.typ).checkVolReq(r); err != nil {
		return nil, err
	}
	if r.enc, err = parseVolEncryption(def); err != nil {
		return nil, err
	}
	if r.perms, err = parsePerms(doc); err != nil {
		return nil, err
	}
	// Volumes are not recursive: a name must not leave the pool's
	// directory (virStorageBackendVolCreateLocal).
	if strings.Contains(r.name, "/") {
		return nil, errStorage(virerr.ErrOperationInvalid, "volume name '%s' cannot contain '/'", r.name)
	}
	// "." and ".." have no '/' but name the pool's directory and its
	// parent, which exist: libvirt's virFileExists check refuses them so.
	if r.name == "." || r.name == ".." {
		return nil, errStorage(virerr.ErrOperationInvalid, "volume target path '%s/%s' already exists", pd.target, r.name)
	}
	if r.path, err = safepath.Join(pd.target, r.name, ""); err != nil {
		return nil, err
	}
	return r, nil
}

// reserve checks a new volume against the pool and records it as being
// built (libvirt's voldef->building), so that concurrent creations of the
// same name fail. The caller holds p.op (no other reservation can run on
// the pool), not mu: the target is looked at without it.
func (m *Manager) reserve(p *pool, r *volReq, existsCode virerr.Code, existsMsg string) (*vol, error) {
	m.mu.Lock()
	exists := p.vols[r.name] != nil
	m.mu.Unlock()
	if exists {
		return nil, errStorage(existsCode, existsMsg, r.name)
	}
	if _, err := os.Lstat(r.path); err == nil || r.name == "." || r.name == ".." {
		return nil, errStorage(virerr.ErrOperationInvalid, "volume target path '%s' already exists", r.path)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !p.active {
		return nil, errNotActive(p.def.name)
	}
	if p.vols[r.name] != nil {
		return nil, errStorage(existsCode, existsMsg, r.name)
	}
	v := &vol{name: r.name, path: r.path, building: true}
	p.vols[r.name] = v
	p.jobs++
	return v, nil
}

// activeDef is the definition of the active pool p (under mu).
func (m *Manager) activeDef(p *pool) (*poolDef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !p.active {
		return nil, errNotActive(p.def.name)
	}
	return p.def, nil
}

// finish ends a creation: the record takes what the backend made, or
// goes away when the build failed (the backend left nothing behind).
func (m *Manager) finish(p *pool, be backend, d *poolDef, v, made *vol, err error) {
	if err == nil {
		m.applyReread(p, be, d)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p.jobs--
	v.building = false
	if err != nil {
		if p.vols[v.name] == v {
			delete(p.vols, v.name)
		}
		return
	}
	v.key = made.key
	v.enc = made.enc
	if made.lv != nil && v.lv == nil {
		v.lv = made.lv
	}
}

func (m *Manager) StorageVolCreateXML(h driver.Pool, xml string, flags uint32) (driver.Vol, error) {
	if flags&^(createPreallocMetadata|createValidate) != 0 {
		return driver.Vol{}, errFlags(flags, "storageVolCreateXML")
	}
	p, err := m.lockPool(h)
	if err != nil {
		return driver.Vol{}, err
	}
	d, err := m.activeDef(p)
	var r *volReq
	if err == nil {
		r, err = parseVolReq(d, xml, flags, true)
	}
	var v *vol
	if err == nil {
		v, err = m.reserve(p, r, virerr.ErrStorageVolExist, "'%s'")
	}
	// The volume is marked: the work runs without any lock.
	p.op.Unlock()
	if err != nil {
		return driver.Vol{}, err
	}
	be := backendFor(d.typ)
	made, err := be.createVol(m, d, r, flags&createPreallocMetadata != 0)
	m.finish(p, be, d, v, made, err)
	if err != nil {
		return driver.Vol{}, err
	}
	return driver.Vol{Pool: h.Name, Name: made.name, Key: made.key}, nil
}

// buildVol writes a new volume: raw files directly, directories with
// mkdir, everything else with qemu-img create, as
// storageBackendVolBuildLocal chooses.
func (m *Manager) buildVol(d *poolDef, r *volReq, prealloc bool) error {
	mode := r.perms
	if mode.mode == -1 {
		mode.mode = defaultVolMode
	}
	switch r.format {
	case "dir":
		if r.backing != "" {
			return errStorage(virerr.ErrNoSupport, "%s", "backing storage not supported for directories volumes")
		}
		if err := os.Mkdir(r.path, 0o700); err != nil {
			return errSys(err, "cannot create path '%s'", r.path)
		}
		return applyPerms(r.path, mode)
	case "raw":
		if r.enc != nil {
			break // a LUKS image, made by qemu-img
		}
		if prealloc {
			return errStorage(virerr.ErrConfigUnsupported, "%s", "metadata preallocation is not supported for raw volumes")
		}
		if r.backing != "" {
			return errStorage(virerr.ErrNoSupport, "%s", "backing storage not supported for raw volumes")
		}
		return createRaw(r, mode)
	}
	typ := r.format
	var opts, object []string
	if r.enc != nil {
		secretPath, err := m.secretFile(d, r)
		if err != nil {
			return err
		}
		defer os.Remove(secretPath)
		if typ, object, opts, err = encryptionArgs(r, secretPath); err != nil {
			return err
		}
	}
	args := []string{"create", "-f", typ}
	if r.backing != "" {
		if prealloc {
			return errStorage(virerr.ErrConfigUnsupported, "%s", "metadata preallocation conflicts with backing store")
		}
		abs := r.backing
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(d.target, abs)
		}
		if err := syscall.Access(abs, 4 /* R_OK */); err != nil {
			return errSys(err, "inaccessible backing store volume %s", r.backing)
		}
		args = append(args, "-b", r.backing)
		opts = append([]string{"backing_fmt=" + r.backingFormat}, opts...)
	}
	if prealloc {
		if r.format != "qcow2" {
			return errStorage(virerr.ErrConfigUnsupported, "%s", "metadata preallocation only available with qcow2")
		}
		if r.capacity > r.allocation {
			opts = append(opts, "preallocation=metadata")
		} else {
			opts = append(opts, "preallocation=falloc")
		}
	}
	if r.format == "qcow2" {
		// libvirt's default: images older QEMUs can read.
		opts = append(opts, "compat=0.10")
	}
	args = append(args, object...)
	if len(opts) > 0 {
		args = append(args, "-o", strings.Join(opts, ","))
	}
	args = append(args, r.path)
	if size := (r.capacity + 1023) / 1024; size > 0 || r.backing == "" {
		args = append(args, fmt.Sprintf("%dK", size))
	}
	err := run(m.qemuImg, args...)
	if err != nil && len(object) > 0 && strings.Contains(err.Error(), "Unable to get accurate CPU usage") {
		// qemu-img times its LUKS key derivation by the thread's CPU
		// clock, which on a busy host can read no time at all for the
		// first, short trial; the same command again measures anew.
		err = run(m.qemuImg, args...)
	}
	if err != nil {
		return err
	}
	return applyPerms(r.path, mode)
}

// createRaw is storageBackendCreateRaw: the file gets its full size at
// once and, up to the requested allocation, real blocks (fallocate, or
// zeros where the file system cannot).
func createRaw(r *volReq, mode perms) error {
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, os.FileMode(mode.mode))
	if err != nil {
		return errSys(err, "Failed to create file '%s'", r.path)
	}
	defer f.Close()
	if err := applyPerms(r.path, mode); err != nil {
		return err
	}
	if err := f.Truncate(int64(r.capacity)); err != nil {
		return errSys(err, "cannot extend file '%s'", r.path)
	}
	if err := allocate(f, r.path, r.allocation); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return errSys(err, "cannot sync data to file '%s'", r.path)
	}
	return nil
}

// allocate gives the first n bytes of f real blocks without changing
// their content.
func allocate(f *os.File, path string, n uint64) error {
	if n == 0 {
		return nil
	}
	err := syscall.Fallocate(int(f.Fd()), 0, 0, int64(n))
	if err == nil {
		return nil
	}
	if err != syscall.EOPNOTSUPP && err != syscall.ENOSYS {
		return errSys(err, "cannot allocate %d bytes in file '%s'", n, path)
	}
	// No fallocate here (e.g. some network file systems): write zeros
	// where the file has holes only, so existing data stays.
	buf := make([]byte, 1<<20)
	for off := uint64(0); off < n; {
		chunk := min(uint64(len(buf)), n-off)
		if _, err := f.ReadAt(buf[:chunk], int64(off)); err != nil && !errors.Is(err, io.EOF) {
			return errSys(err, "cannot fill file '%s'", path)
		}
		if _, err := f.WriteAt(buf[:chunk], int64(off)); err != nil {
			return errSys(err, "cannot fill file '%s'", path)
		}
		off += chunk
	}
	return nil
}
