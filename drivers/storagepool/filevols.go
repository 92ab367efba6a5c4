package storagepool

import (
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"govirt/virerr"
)

// Volumes of dir and fs pools: files (and directories) in the target.

func (fileBackend) checkVolReq(r *volReq) error {
	if r.format == "" {
		r.format = "raw"
	}
	if !fileFormats[r.format] {
		return errStorage(virerr.ErrConfigUnsupported, "unknown volume format type %s", r.format)
	}
	if r.backing != "" {
		if r.backingFormat == "" {
			r.backingFormat = "raw"
		}
		if !fileFormats[r.backingFormat] {
			return errStorage(virerr.ErrConfigUnsupported, "unknown volume format type %s", r.backingFormat)
		}
	}
	return nil
}

func (fileBackend) createVol(m *Manager, d *poolDef, r *volReq, prealloc bool) (*vol, error) {
	if err := m.buildVol(d, r, prealloc); err != nil {
		_ = os.RemoveAll(r.path)
		return nil, err
	}
	return &vol{name: r.name, path: r.path, key: r.path, enc: r.enc}, nil
}

func (fileBackend) cloneVol(m *Manager, d *poolDef, r *volReq, src *volStat) (*vol, error) {
	if err := m.cloneFile(d, r, src); err != nil {
		_ = os.RemoveAll(r.path)
		return nil, err
	}
	return &vol{name: r.name, path: r.path, key: r.path, enc: r.enc}, nil
}

func (fileBackend) statVol(m *Manager, v *vol) (*volStat, error) { return m.statVol(v.path) }

// removeVol unlinks the file, or removes the (empty) directory.
func (fileBackend) removeVol(_ *Manager, v *vol) error {
	fi, err := os.Lstat(v.path)
	switch {
	case err != nil && os.IsNotExist(err):
	case err != nil:
		return errSys(err, "cannot stat file '%s'", v.path)
	case fi.IsDir():
		if err := os.Remove(v.path); err != nil {
			return errSys(err, "cannot remove directory '%s'", v.path)
		}
	default:
		if err := os.Remove(v.path); err != nil {
			return errSys(err, "cannot unlink file '%s'", v.path)
		}
	}
	return nil
}

func (fileBackend) wipeVol(_ *Manager, v *vol) error { return wipeFile(v.path) }

func (fileBackend) resizeVol(m *Manager, v *vol, st *volStat, capacity uint64, flags uint32) error {
	if st.typ == volDir {
		return errStorage(virerr.ErrNoSupport, "%s", "storage pool does not support changing of volume capacity")
	}
	return m.resizeFile(v.path, st.target.format, capacity, flags&resizeAllocate != 0, capacity < st.capacity)
}

// reread has nothing to do: file volumes are read when asked about.
func (fileBackend) reread(*Manager, *poolDef) (func(*pool), error) { return nil, nil }

func (fileBackend) sizes(d *poolDef) (poolSizes, bool, error) {
	sz, err := statfsSizes(d.target)
	return sz, err == nil, err
}

// scan re-reads the target directory, as virStorageBackendRefreshLocal:
// every regular file and directory is a volume, names with control
// characters and other file types are skipped. Records of volumes that
// are still there are kept (with their busy state).
func (fileBackend) scan(m *Manager, d *poolDef) (func(*pool), error) {
	ents, err := os.ReadDir(d.target)
	if err != nil {
		return nil, errSys(err, "cannot open directory '%s'", d.target)
	}
	var found []string
	for _, e := range ents {
		name := e.Name()
		if strings.IndexFunc(name, unicode.IsControl) >= 0 {
			m.log.Warn("ignoring file with control characters", "pool", d.name, "name", name)
			continue
		}
		fi, err := os.Stat(filepath.Join(d.target, name)) // follows symlinks; dangling ones are skipped
		if err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
			continue
		}
		found = append(found, name)
	}
	fi, err := os.Stat(d.target)
	if err != nil {
		return nil, errSys(err, "cannot stat path '%s'", d.target)
	}
	sz, err := statfsSizes(d.target)
	if err != nil {
		return nil, err
	}
	perms := statPerms(fi)
	return func(p *pool) {
		vols := make(map[string]*vol, len(found))
		for _, name := range found {
			path := filepath.Join(p.def.target, name)
			if old := p.vols[name]; old != nil && old.path == path {
				// Re-read as libvirt's refresh does: the encryption
				// shown is the image's from now on.
				old.enc = nil
				vols[name] = old
				continue
			}
			vols[name] = &vol{name: name, path: path, key: path}
		}
		// Definitions are shared with readers: a new one, not a change.
		nd := p.def.clone()
		nd.perms = perms
		p.def, p.vols, p.sizes = nd, vols, sz
	}, nil
}
