package storagepool

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"govirt/driver"
	"govirt/virerr"
)

// StorageVolCreateXMLFrom clones a volume. The copy is made with
// qemu-img convert (which keeps holes and converts formats), so an overlay
// is flattened into a standalone image as with libvirt.
func (m *Manager) StorageVolCreateXMLFrom(h driver.Pool, xml string, src driver.Vol, flags uint32) (driver.Vol, error) {
	if flags&^(createPreallocMetadata|createReflink|createValidate) != 0 {
		return driver.Vol{}, errFlags(flags, "storageVolCreateXMLFrom")
	}
	// The checks keep storageVolCreateXMLFrom's order; the source is
	// marked in use under its pool's operation lock, then the new volume
	// reserved under the target pool's, one at a time.
	p, err := m.lockPool(h)
	if err != nil {
		return driver.Vol{}, err
	}
	d, err := m.activeDef(p)
	p.op.Unlock()
	if err != nil {
		return driver.Vol{}, err
	}
	var r *volReq
	sp, sv, srcSnap, sbe, err := m.markSource(src, func() error {
		var err error
		r, err = parseVolReq(d, xml, flags, false)
		return err
	})
	if err != nil {
		return driver.Vol{}, err
	}
	unmark := func() {
		m.mu.Lock()
		sv.inUse--
		sp.jobs--
		m.mu.Unlock()
	}
	if p, err = m.lockPool(h); err == nil {
		if d, err = m.activeDef(p); err == nil {
			var v *vol
			if v, err = m.reserve(p, r, virerr.ErrInternalError, "storage volume name '%s' already in use."); err == nil {
				p.op.Unlock()
				return m.cloneInto(h, p, d, r, v, srcSnap, sbe, unmark)
			}
		}
		p.op.Unlock()
	}
	unmark()
	return driver.Vol{}, err
}

// markSource marks the source volume of a clone in use (and its pool as
// having a job); parse runs between the source pool's and volume's
// checks, as libvirt orders them.
func (m *Manager) markSource(src driver.Vol, parse func() error) (*pool, *vol, *vol, backend, error) {
	sp, err := m.lockPoolName(src.Pool)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer sp.op.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !sp.active {
		return nil, nil, nil, nil, errNotActive(sp.def.name)
	}
	if err := parse(); err != nil {
		return nil, nil, nil, nil, err
	}
	sv := sp.vols[src.Name]
	if sv == nil {
		return nil, nil, nil, nil, errNoVolName(src.Name)
	}
	if sv.building {
		return nil, nil, nil, nil, errVolBuilding(sv.name)
	}
	snap := *sv
	sv.inUse++
	sp.jobs++
	return sp, sv, &snap, backendFor(sp.def.typ), nil
}

// cloneInto copies the marked source into the reserved volume v, without
// any lock.
func (m *Manager) cloneInto(h driver.Pool, p *pool, d *poolDef, r *volReq, v *vol, srcSnap *vol, sbe backend, unmark func()) (driver.Vol, error) {
	be := backendFor(d.typ)
	var made *vol
	st, err := sbe.statVol(m, srcSnap)
	if err == nil {
		st.enc = m.volumeEncryption(srcSnap, st)
		made, err = be.cloneVol(m, d, r, st)
	}
	unmark()
	m.finish(p, be, d, v, made, err)
	if err != nil {
		return driver.Vol{}, err
	}
	return driver.Vol{Pool: h.Name, Name: made.name, Key: made.key}, nil
}

// cloneFile copies a volume (st, as its pool's backend read it) into a
// new file of r's format.
func (m *Manager) cloneFile(d *poolDef, r *volReq, st *volStat) error {
	srcPath, srcFormat := st.target.path, st.target.format
	if srcFormat == "" {
		srcFormat = "raw" // logical volumes have no format
	}
	if st.typ == volDir || r.format == "dir" {
		return errStorage(virerr.ErrInternalError, "%s", "cannot copy from volume to a directory volume")
	}
	// A smaller or missing capacity means the source's.
	capacity := max(r.capacity, st.capacity)
	if r.enc != nil || st.enc != nil {
		return m.cloneEncrypted(d, r, st, srcFormat, capacity)
	}
	args := []string{"convert", "-f", srcFormat, "-O", r.format}
	if r.format == "qcow2" {
		args = append(args, "-o", "compat=0.10")
	}
	if err := run(m.qemuImg, append(args, srcPath, r.path)...); err != nil {
		return err
	}
	mode := r.perms
	if mode.mode == -1 {
		mode.mode = defaultVolMode
	}
	if err := applyPerms(r.path, mode); err != nil {
		return err
	}
	if capacity > st.capacity {
		if err := m.resizeFile(r.path, r.format, capacity, false, false); err != nil {
			return err
		}
	}
	if r.format == "raw" && r.capacitySet && r.allocation >= capacity {
		// Fully allocated like the source asked for, as createRawFile.
		f, err := os.OpenFile(r.path, os.O_RDWR, 0)
		if err != nil {
			return errSys(err, "cannot open file '%s'", r.path)
		}
		defer f.Close()
		return allocate(f, r.path, capacity)
	}
	return nil
}

// Resize flags (virStorageVolResizeFlags).
const (
	resizeAllocate = 1 << 0
	resizeDelta    = 1 << 1
	resizeShrink   = 1 << 2
)

// StorageVolResize follows storageVolResize's checks against the
// volume's current (freshly read) capacity and allocation.
func (m *Manager) StorageVolResize(h driver.Vol, capacity uint64, flags uint32) error {
	if flags&^(resizeAllocate|resizeDelta|resizeShrink) != 0 {
		return errFlags(flags, "storageVolResize")
	}
	p, v, be, done, err := m.busyVol(h, func(_ *pool, v *vol) error {
		if v.inUse > 0 {
			return errVolInUse(v.name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	st, err := be.statVol(m, v)
	if err != nil {
		return err
	}
	abs := capacity
	if flags&resizeDelta != 0 {
		if flags&resizeShrink != 0 {
			abs = st.capacity - min(capacity, st.capacity)
		} else {
			abs = st.capacity + capacity
		}
	}
	if abs < st.allocation {
		return errStorage(virerr.ErrInvalidArg, "%s", "can't shrink capacity below existing allocation")
	}
	if abs < st.capacity && flags&resizeShrink == 0 {
		return errStorage(virerr.ErrInvalidArg, "%s",
			"Can't shrink capacity below current capacity unless shrink flag explicitly specified")
	}
	if flags&resizeAllocate != 0 {
		if abs-st.allocation > m.freshSizes(p, be).available {
			return errStorage(virerr.ErrOperationFailed, "%s", "Not enough space left in storage pool")
		}
	}
	if err := be.resizeVol(m, v, st, abs, flags); err != nil {
		return err
	}
	m.mu.Lock()
	d := p.def.clone()
	m.mu.Unlock()
	m.applyReread(p, be, d)
	return nil
}

// resizeFile is virStorageBackendVolResizeLocal: raw files are truncated
// (and allocated on request), images are resized by qemu-img.
func (m *Manager) resizeFile(path, format string, capacity uint64, prealloc, shrink bool) error {
	if format != "raw" {
		if prealloc {
			return errStorage(virerr.ErrOperationUnsupported, "%s", "preallocate is only supported for raw type volume")
		}
		args := []string{"resize"}
		if shrink {
			args = append(args, "--shrink")
		}
		return run(m.qemuImg, append(args, path, strconv.FormatUint(capacity, 10))...)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return errSys(err, "Unable to open '%s'", path)
	}
	defer f.Close()
	if prealloc {
		if err := allocate(f, path, capacity); err != nil {
			return err
		}
	}
	if err := f.Truncate(int64(capacity)); err != nil {
		return errSys(err, "Failed to truncate file '%s'", path)
	}
	return nil
}

// StorageVolWipe zeroes the volume (the only algorithm of
// virStorageVolWipe). A sparse file is emptied by truncating it to zero
// and back, which is how storageBackendVolZeroSparseFileLocal keeps it
// sparse; other files are overwritten.
func (m *Manager) StorageVolWipe(h driver.Vol, flags uint32) error {
	if flags != 0 {
		return errFlags(flags, "storageVolWipe")
	}
	p, v, be, done, err := m.busyVol(h, func(_ *pool, v *vol) error {
		if v.inUse > 0 {
			return errVolInUse(v.name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	if err := be.wipeVol(m, v); err != nil {
		return err
	}
	m.freshSizes(p, be)
	return nil
}

// freshSizes reads the pool's sizes again where that is cheap (statfs,
// without the lock) and records them; others keep the last scan's.
func (m *Manager) freshSizes(p *pool, be backend) poolSizes {
	m.mu.Lock()
	d, cur := p.def, p.sizes
	m.mu.Unlock()
	sz, ok, err := be.sizes(d)
	if !ok || err != nil {
		return cur
	}
	m.mu.Lock()
	if p.active && p.def == d {
		p.sizes = sz
	}
	m.mu.Unlock()
	return sz
}

func wipeFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return errSys(err, "Failed to open storage volume with path '%s'", path)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return errSys(err, "Failed to stat storage volume with path '%s'", path)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Blocks < st.Size/512 {
		if err := f.Truncate(0); err != nil {
			return errSys(err, "Failed to truncate volume with path '%s' to 0 bytes", path)
		}
		if err := f.Truncate(st.Size); err != nil {
			return errSys(err, "Failed to truncate volume with path '%s' to %d bytes", path, st.Size)
		}
		return nil
	}
	return zeroRange(f, path, 0, st.Size)
}

// zeroRange overwrites n bytes from off with zeros and syncs them, as
// storageBackendWipeLocal.
func zeroRange(f *os.File, path string, off, n int64) error {
	buf := make([]byte, min(4<<20, max(n, 0)))
	for end := off + n; off < end; {
		c := min(int64(len(buf)), end-off)
		if _, err := f.WriteAt(buf[:c], off); err != nil {
			return errSys(err, "Failed to write %d bytes to storage volume with path '%s'", c, path)
		}
		off += c
	}
	if err := f.Sync(); err != nil {
		return errSys(err, "cannot sync data to volume with path '%s'", path)
	}
	return nil
}

// cloneEncrypted is storageBackendCreateQemuImg with an input volume when
// either side is encrypted: the secrets' files first (the new volume's,
// then the source's), then the new image is created empty at the
// capacity and the data converted into it through qemu-img's image
// options, each side opened with its own key.
func (m *Manager) cloneEncrypted(d *poolDef, r *volReq, st *volStat, srcFormat string, capacity uint64) error {
	srcName := filepath.Base(st.target.path)
	var secretPath, inputSecretPath string
	if r.enc != nil {
		p, err := m.secretFile(d, r)
		if err != nil {
			return err
		}
		secretPath = p
		defer os.Remove(p)
	}
	if st.enc != nil {
		in := &volReq{name: srcName, enc: st.enc, perms: perms{mode: -1, uid: -1, gid: -1}}
		// Named after the target pool, as libvirt's
		// storageBackendCreateQemuImgSecretPath(pool, inputvol).
		p, err := m.secretFile(d, in)
		if err != nil {
			return err
		}
		inputSecretPath = p
		defer os.Remove(p)
	}
	if r.enc != nil && (r.enc.format == "qcow" || r.enc.format == "default") && (r.format == "qcow" || r.format == "qcow2") {
		return errStorage(virerr.ErrConfigUnsupported, "%s", "creation of qcow2 encrypted image is not supported")
	}
	if st.enc != nil && st.enc.format != "luks" {
		return errStorage(virerr.ErrConfigUnsupported, "%s", "encryption format of inputvol must be LUKS")
	}
	// Step 1: the new image, empty (buildVol, as for vol-create).
	nr := *r
	nr.capacity, nr.backing, nr.backingFormat = capacity, "", ""
	if err := m.buildVol(d, &nr, false); err != nil {
		return err
	}
	// Step 2: the data, through both keys.
	args := []string{"convert", "--image-opts", "-n", "--target-image-opts"}
	dstAlias, srcAlias := r.name+"_encrypt0", srcName+"_encrypt0"
	if r.enc != nil {
		args = append(args, "--object", "secret,id="+dstAlias+",file="+strings.ReplaceAll(secretPath, ",", ",,"))
	}
	if st.enc != nil {
		args = append(args, "--object", "secret,id="+srcAlias+",file="+strings.ReplaceAll(inputSecretPath, ",", ",,"))
	}
	opts := func(format, path string, enc bool, alias string) string {
		typ := format
		if enc && format == "raw" {
			typ = "luks"
		}
		o := "driver=" + typ + ",file.filename=" + strings.ReplaceAll(path, ",", ",,")
		if enc {
			prefix := ""
			if format == "qcow2" {
				prefix = "encrypt."
			}
			o += "," + prefix + "key-secret=" + alias
		}
		return o
	}
	args = append(args, opts(srcFormat, st.target.path, st.enc != nil, srcAlias), opts(r.format, r.path, r.enc != nil, dstAlias))
	if err := run(m.qemuImg, args...); err != nil {
		os.Remove(r.path)
		return err
	}
	return nil
}
