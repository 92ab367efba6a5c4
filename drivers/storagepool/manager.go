// Package storagepool is the storage driver behind qemu:///system: dir and
// fs pools whose volumes are files, and logical pools whose volumes are
// LVM logical volumes, managed with the same files and tools libvirtd uses
// (qemu-img, mount, the LVM commands).
//
// Concurrency, along libvirt's storage driver: Manager.mu guards the pool
// map and the pool and volume records, and is held only for memory work,
// never across file I/O or a command (qemu-img, mount, mkfs, the LVM
// tools). Each pool has an operation lock (pool.op) that its state
// changes hold for their whole length (build, start, stop, refresh,
// delete, define over it, undefine, autostart), so those are serialized
// per pool and run in parallel across pools. Volume work (creating,
// cloning, resizing, wiping, deleting, streaming) takes the operation
// lock only to check and mark its volume (building, in use) and the pool
// (asynchronous jobs), then runs without any lock; conflicting operations
// are refused with libvirt's errors ("volume '%s' is still being
// allocated.", "pool '%s' has asynchronous jobs running."). Reads (lists,
// lookups, info, XML) take only mu, so they never wait for a command.
// Definitions are never changed once stored in a record (they are
// replaced), so readers format them after letting mu go. Lock order: op,
// then mu; never two pools' op locks at once.
package storagepool

import (
	"govirt/drivers/internal/safepath"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"govirt/atomicfile"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// Publisher receives driver.PoolEvent values (the qemu driver's bus).
type Publisher interface{ Publish(ev any) }

// Config says where the driver keeps its files. Nothing is written outside
// these directories except the pool targets and volumes users name.
type Config struct {
	StateDir string // NAME.xml definitions and autostart/NAME markers
	RunDir   string // NAME.xml for pools that are active (live state)
	Bus      Publisher
	Log      *slog.Logger
	QemuImg  string // default /usr/bin/qemu-img (found in PATH)
	// Secret returns the value of the secret an encrypted volume names
	// (by UUID, else by usage; usageType is the type it must have); nil
	// refuses encrypted volumes.
	Secret func(uuid, usageType, usage string) ([]byte, error)
	// SecretByVolume is the UUID of the secret of usage type volume for
	// path, "" when none (what a refreshed encrypted volume shows).
	SecretByVolume func(path string) string
}

// Manager implements driver.StoragePools and driver.StorageVols.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	qemuImg string
	probe   prober

	loadOnce sync.Once
	autoOnce sync.Once

	mu    sync.Mutex
	pools map[string]*pool
}

// pool is one storage pool. def is the live definition (its permissions
// follow the target directory after a refresh); newDef is a definition
// given while the pool was active, which takes over when it stops. op is
// the operation lock; every other field is guarded by Manager.mu.
type pool struct {
	op         sync.Mutex
	def        *poolDef
	newDef     *poolDef
	persistent bool
	active     bool
	autostart  bool
	jobs       int // volume operations running without the lock
	vols       map[string]*vol
	// Sizes from the last statfs or scan, shown while inactive as
	// libvirt does.
	sizes poolSizes
}

type poolSizes struct{ capacity, allocation, available uint64 }

func (p *pool) handle() driver.Pool { return driver.Pool{Name: p.def.name, UUID: p.def.uuid} }

// New returns a manager; definitions are loaded on first use.
func New(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	bin := cfg.QemuImg
	if bin == "" {
		bin = "qemu-img"
	}
	return &Manager{cfg: cfg, log: cfg.Log.With("driver", "storage"), qemuImg: bin,
		probe: nativeProber{}, pools: map[string]*pool{}}
}

// A pool's files are named after it, which a client chooses: each path is
// built through safepath, which refuses a name that would leave its
// directory. The autostart marker is NAME.xml, libvirt's link name (the
// bare NAME of earlier versions is still honoured and removed).
func (m *Manager) configPath(name string) (string, error) {
	return safepath.Join(m.cfg.StateDir, name, ".xml")
}
func (m *Manager) autostartPath(name string) (string, error) {
	return safepath.Join(filepath.Join(m.cfg.StateDir, "autostart"), name, ".xml")
}
func (m *Manager) legacyAutostart(name string) string {
	p, err := safepath.Join(filepath.Join(m.cfg.StateDir, "autostart"), name, "")
	if err != nil {
		return ""
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return p
}
func (m *Manager) statePath(name string) (string, error) {
	return safepath.Join(m.cfg.RunDir, name, ".xml")
}

// removeState removes a pool's state file.
func (m *Manager) removeState(name string) {
	if path, err := m.statePath(name); err == nil {
		_ = atomicfile.Remove(path)
	}
}

// setAutostartFile writes or removes the autostart marker.
func (m *Manager) setAutostartFile(name string, on bool) error {
	path, err := m.autostartPath(name)
	if err != nil {
		return err
	}
	if on {
		return atomicfile.Write(path, []byte(name+"\n"), 0o600)
	}
	if old := m.legacyAutostart(name); old != "" {
		if err := atomicfile.Remove(old); err != nil {
			return err
		}
	}
	return atomicfile.Remove(path)
}

func (m *Manager) publish(h driver.Pool, ev int32) {
	if m.cfg.Bus != nil {
		m.cfg.Bus.Publish(driver.PoolEvent{Pool: h, Event: ev})
	}
}

func (m *Manager) publishRefresh(h driver.Pool) {
	if m.cfg.Bus != nil {
		m.cfg.Bus.Publish(driver.PoolEvent{Pool: h, Refresh: true})
	}
}

// load reads the saved definitions, then the state of pools that were
// active when the daemon last ran: those whose target is still usable are
// active again (with their volumes), as libvirtd's storagePoolUpdateState.
// Every entry point calls it first and waits for it (sync.Once), so
// nothing else touches the records yet and no lock is needed while it
// runs commands.
func (m *Manager) load() {
	m.loadOnce.Do(func() {
		for _, dir := range []string{m.cfg.StateDir, filepath.Join(m.cfg.StateDir, "autostart"), m.cfg.RunDir} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				m.log.Error("cannot create storage directory", "path", dir, "err", err)
			}
			// Temporary files of writes a killed daemon never finished.
			removed, err := atomicfile.CleanTemp(dir)
			if len(removed) > 0 {
				m.log.Info("removed stale temporary files", "dir", dir, "files", removed)
			}
			if err != nil {
				m.log.Warn("cannot remove stale temporary files", "dir", dir, "err", err)
			}
		}
		for _, def := range m.readDefs(m.cfg.StateDir) {
			if m.pools[def.name] != nil {
				continue
			}
			p := &pool{def: def, persistent: true, vols: map[string]*vol{}}
			if path, err := m.autostartPath(def.name); err == nil {
				if _, err := os.Stat(path); err == nil {
					p.autostart = true
				}
			}
			if m.legacyAutostart(def.name) != "" {
				p.autostart = true
			}
			m.pools[def.name] = p
		}
		for _, def := range m.readDefs(m.cfg.RunDir) {
			p := m.pools[def.name]
			if p == nil {
				p = &pool{def: def, vols: map[string]*vol{}}
			} else if p.def.uuid != def.uuid {
				m.log.Error("stale pool state ignored", "pool", def.name)
				m.removeState(def.name)
				continue
			} else {
				p.newDef, p.def = p.def, def
			}
			be := backendFor(def.typ)
			ok, err := be.check(def)
			var apply func(*pool)
			if err == nil && ok {
				apply, err = be.scan(m, def)
			}
			if err != nil || !ok {
				m.log.Warn("pool no longer active", "pool", def.name, "err", err)
				m.removeState(def.name)
				m.stopped(p)
				if !p.persistent {
					continue
				}
			} else {
				p.active = true
				apply(p)
			}
			m.pools[def.name] = p
		}
	})
}

func (m *Manager) readDefs(dir string) []*poolDef {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []*poolDef
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".xml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			m.log.Error("cannot read pool definition", "path", path, "err", err)
			continue
		}
		def, err := parsePoolDef(string(data), false)
		if err != nil {
			// Kept on disk: a later govirt may understand it.
			m.log.Error("cannot parse pool definition", "path", path, "err", err)
			continue
		}
		if def.name+".xml" != e.Name() {
			m.log.Error("pool definition file name does not match its name", "path", path)
			continue
		}
		out = append(out, def)
	}
	return out
}

// Autostart starts the persistent pools marked autostart that are not
// active; failures are logged, as libvirtd does. It runs once.
func (m *Manager) Autostart() {
	m.load()
	m.autoOnce.Do(func() {
		m.mu.Lock()
		names := make([]string, 0, len(m.pools))
		for n := range m.pools {
			names = append(names, n)
		}
		m.mu.Unlock()
		sort.Strings(names)
		for _, n := range names {
			p, err := m.lockPoolName(n)
			if err != nil {
				continue
			}
			m.mu.Lock()
			want := p.autostart && !p.active && p.persistent
			m.mu.Unlock()
			if want {
				if err := m.start(p); err != nil {
					m.log.Error("Failed to autostart storage pool", "pool", n, "err", err)
				}
			}
			p.op.Unlock()
		}
	})
}

// saveConfig writes the persistent definition.
func (m *Manager) saveConfig(def *poolDef) error {
	path, err := m.configPath(def.name)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, []byte(def.format(0, 0, 0)), 0o600); err != nil {
		return errSys(err, "cannot save config file '%s'", path)
	}
	return nil
}

// saveState records an active pool so a restarted daemon finds it active.
func (m *Manager) saveState(d *poolDef) {
	path, err := m.statePath(d.name)
	if err == nil {
		err = atomicfile.Write(path, []byte(d.format(0, 0, 0)), 0o600)
	}
	if err != nil {
		m.log.Error("cannot save pool state", "pool", d.name, "err", err)
	}
}

// stopped forgets an active pool's runtime state (under mu): volumes and
// a definition that was waiting for it to stop. The caller removes the
// state file (removeState) without the lock.
func (m *Manager) stopped(p *pool) {
	p.active = false
	p.vols = map[string]*vol{}
	if p.newDef != nil {
		p.def, p.newDef = p.newDef, nil
	}
}

// poolByHandle is virStoragePoolObjFromStoragePool: by UUID.
func (m *Manager) poolByHandle(h driver.Pool) (*pool, error) {
	for _, p := range m.pools {
		if p.def.uuid == h.UUID {
			return p, nil
		}
	}
	return nil, errStorage(virerr.ErrNoStoragePool, "no storage pool with matching uuid '%s' (%s)", h.UUID, h.Name)
}

func (m *Manager) poolByUUID(u uuid.UUID) (*pool, error) {
	for _, p := range m.pools {
		if p.def.uuid == u {
			return p, nil
		}
	}
	return nil, errStorage(virerr.ErrNoStoragePool, "no storage pool with matching uuid '%s'", u)
}

// withPool runs fn on the pool h names, under mu: fn does memory work
// only.
func (m *Manager) withPool(h driver.Pool, fn func(p *pool) error) error {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.poolByHandle(h)
	if err != nil {
		return err
	}
	return fn(p)
}

// lockPool finds the pool h names and takes its operation lock; the
// caller unlocks p.op. A pool removed while this waited is looked up
// again.
func (m *Manager) lockPool(h driver.Pool) (*pool, error) {
	return m.lockWith(func() (*pool, error) { return m.poolByHandle(h) })
}

// lockPoolName is lockPool by name (volume handles name their pool).
func (m *Manager) lockPoolName(name string) (*pool, error) {
	return m.lockWith(func() (*pool, error) {
		if p := m.pools[name]; p != nil {
			return p, nil
		}
		return nil, errNoPoolName(name)
	})
}

func (m *Manager) lockWith(find func() (*pool, error)) (*pool, error) {
	m.load()
	for {
		m.mu.Lock()
		p, err := find()
		m.mu.Unlock()
		if err != nil {
			return nil, err
		}
		p.op.Lock()
		m.mu.Lock()
		ok := m.pools[p.def.name] == p
		m.mu.Unlock()
		if ok {
			return p, nil
		}
		p.op.Unlock()
	}
}

// forget removes a pool's record (its operation lock is held).
func (m *Manager) forget(p *pool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pools[p.def.name] == p {
		delete(m.pools, p.def.name)
	}
}

// poolHandle is p's handle, read under mu.
func (m *Manager) poolHandle(p *pool) driver.Pool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return p.handle()
}
