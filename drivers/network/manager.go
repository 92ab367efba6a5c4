// Package network is the virtual network driver behind qemu:///system, as
// libvirt's bridge network driver: networks with a bridge of their own
// (isolated, nat, route) get a Linux bridge with the network's addresses,
// libvirt's iptables rules and a dnsmasq for DHCP and DNS; forward mode
// bridge names an existing host bridge and needs nothing.
//
// Files: StateDir/NAME.xml (persistent definitions, written atomically),
// StateDir/autostart/NAME (autostart markers), StateDir/dnsmasq/ (dnsmasq's
// generated configuration and hosts files), RunDir/NAME.xml (the live
// definition of an active network), RunDir/NAME.pid and NAME.leases
// (dnsmasq's). A restarted daemon finds its active networks from RunDir:
// one whose bridge is gone is inactive, one whose dnsmasq died gets a new
// one.
package network

import (
	"govirt/drivers/internal/safepath"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// Publisher receives driver.NetworkEvent values (the qemu driver's bus).
type Publisher interface{ Publish(ev any) }

// Config says where the driver keeps its files.
type Config struct {
	StateDir string
	RunDir   string
	Bus      Publisher
	Log      *slog.Logger
}

// Manager implements driver.Networks.
//
// Locking, as libvirt's network driver: every network has its own
// operation lock (netObj.op), held by whatever changes it (start, stop,
// define over it, undefine, update, autostart) for the whole operation,
// including its commands (ip, iptables, dnsmasq), so operations on one
// network are serialized and those on different networks run in
// parallel. mu guards only the name map and the records' fields: it is
// held for memory work, never across file I/O or a command, so reads
// (list, lookup, XML, info) never wait for an operation. Definitions are
// never changed once stored in a record (they are replaced), so a reader
// can format one after letting mu go. Lock order: op, then defMu, then mu.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	loadOnce sync.Once
	autoOnce sync.Once

	// defMu serializes the step of define and create that picks a free
	// bridge name and stores the definition, so two networks never get
	// the same one; it is never held across a command.
	defMu sync.Mutex

	mu   sync.Mutex
	nets map[string]*netObj
}

// netObj is one network: its operation lock and its state.
type netObj struct {
	op sync.Mutex
	netState
}

// netState is a network's state, guarded by Manager.mu. def is the
// persistent (or transient) definition, live the running one; newDef a
// definition given while active, which takes over when it stops.
type netState struct {
	def        *conf.Network
	newDef     *conf.Network
	live       *conf.Network
	active     bool
	persistent bool
	autostart  bool
	dnsmasqPid int
	// ports are the network's ports while active (ports.go).
	ports map[uuid.UUID]*conf.NetworkPort
}

func (o netState) handle() driver.Network { return driver.Network{Name: o.def.Name, UUID: o.def.UUID} }

// New returns a manager; state is loaded on first use.
func New(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Manager{cfg: cfg, log: cfg.Log, nets: map[string]*netObj{}}
}

func errNet(code virerr.Code, format string, a ...any) error {
	return virerr.New(virerr.FromNetwork, code, format, a...)
}

// netFiles are the files a network has on the host, named after it as
// libvirt names them. The name comes from a client: every path is built
// through safepath, which refuses any name that would leave its directory.
type netFiles struct {
	config, autostart, status string
	pid, leases               string // in RunDir
	conf, hosts, addnHosts    string // in the dnsmasq directory
}

func (m *Manager) files(name string) (netFiles, error) {
	var f netFiles
	dns := m.dnsmasqDir()
	for _, p := range []struct {
		dst               *string
		dir, elem, suffix string
	}{
		{&f.config, m.cfg.StateDir, name, ".xml"},
		{&f.autostart, filepath.Join(m.cfg.StateDir, "autostart"), name, ".xml"},
		{&f.status, m.cfg.RunDir, name, ".xml"},
		{&f.pid, m.cfg.RunDir, name, ".pid"},
		{&f.leases, m.cfg.RunDir, name, ".leases"},
		{&f.conf, dns, name, ".conf"},
		{&f.hosts, dns, nameEscaper.Replace(name), ".hostsfile"},
		{&f.addnHosts, dns, nameEscaper.Replace(name), ".addnhosts"},
	} {
		path, err := safepath.Join(p.dir, p.elem, p.suffix)
		if err != nil {
			return netFiles{}, err
		}
		*p.dst = path
	}
	return f, nil
}

// mustFiles is files for names already accepted by parseDef or read back
// from the daemon's own directories; a name that is not usable gives
// empty paths, which every caller treats as "no such file".
func (m *Manager) mustFiles(name string) netFiles {
	f, err := m.files(name)
	if err != nil {
		m.log.Error("network name unusable as a file name", "network", name, "err", err)
	}
	return f
}

func formatNet(def *conf.Network) ([]byte, error) { return def.Format(0) }

func (m *Manager) saveConfig(def *conf.Network) error {
	data, err := formatNet(def)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(m.cfg.StateDir, 0o755); err != nil {
		return err
	}
	f, err := m.files(def.Name)
	if err != nil {
		return err
	}
	return atomicfile.Write(f.config, data, 0o600)
}

func (m *Manager) saveStatus(live *conf.Network) error {
	data, err := formatNet(live)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(m.cfg.RunDir, 0o755); err != nil {
		return err
	}
	f, err := m.files(live.Name)
	if err != nil {
		return err
	}
	return atomicfile.Write(f.status, data, 0o600)
}

func readNet(path string) (*conf.Network, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return conf.ParseNetwork(data, 0)
}

// load reads the definitions and the status of active networks, checking
// each of those is still there. Every entry point calls it first and
// waits for it (sync.Once), so nothing else touches the records yet and
// no lock is needed while it runs commands.
func (m *Manager) load() {
	m.loadOnce.Do(func() {
		// Temporary files of writes a killed daemon never finished.
		for _, dir := range []string{m.cfg.StateDir, m.cfg.RunDir, m.dnsmasqDir()} {
			cleanTemp(m.log, dir)
		}
		paths, _ := filepath.Glob(filepath.Join(m.cfg.StateDir, "*.xml"))
		for _, p := range paths {
			def, err := readNet(p)
			if err != nil || def.Name+".xml" != filepath.Base(p) {
				m.log.Error("network definition unreadable", "path", p, "err", err)
				continue
			}
			m.nets[def.Name] = &netObj{netState: netState{def: def, persistent: true, autostart: m.autostartMarked(def.Name)}}
		}
		paths, _ = filepath.Glob(filepath.Join(m.cfg.RunDir, "*.xml"))
		for _, p := range paths {
			live, err := readNet(p)
			if err != nil {
				m.log.Error("network status unreadable", "path", p, "err", err)
				continue
			}
			m.reconnect(live)
		}
	})
}

// reconnect is networkUpdateState for one network that was active.
func (m *Manager) reconnect(live *conf.Network) {
	o := m.nets[live.Name]
	if o == nil {
		o = &netObj{netState: netState{def: live.Clone()}}
		m.nets[live.Name] = o
	} else if o.def.UUID != live.UUID {
		m.log.Error("network status does not match its definition", "network", live.Name)
		return
	}
	x, err := netXMLOf(live)
	if err != nil {
		m.log.Error("network status unusable", "network", live.Name, "err", err)
		return
	}
	if ownsBridge(x.forwardMode()) && !bridgeExists(x.Bridge.Name) {
		m.log.Info("network's bridge is gone: inactive", "network", live.Name, "bridge", x.Bridge.Name)
		m.cleanupInactive(o.dnsmasqPid, x)
		m.dropAllPorts(o)
		if !o.persistent {
			delete(m.nets, live.Name)
		}
		return
	}
	o.active, o.live = true, live
	m.loadPorts(o)
	if o.persistent && !sameNet(o.def, live) {
		o.newDef = o.def
	}
	// As libvirt's networkReloadFirewallRules at startup: the rules are
	// removed and inserted again, in case the firewall was reloaded.
	if ownsBridge(x.forwardMode()) {
		removeFirewall(x)
		if err := addFirewall(x); err != nil {
			m.log.Error("network firewall rules not restored", "network", live.Name, "err", err)
		}
	}
	if ownsBridge(x.forwardMode()) && needDnsmasq(x) {
		f := m.mustFiles(live.Name)
		pid, _ := readPid(f.pid)
		if !dnsmasqAlive(pid, f.conf) {
			m.log.Info("restarting dnsmasq", "network", live.Name)
			if pid, err = m.startDnsmasq(x); err != nil {
				m.log.Error("dnsmasq restart failed", "network", live.Name, "err", err)
			}
		}
		o.dnsmasqPid = pid
	}
}

func sameNet(a, b *conf.Network) bool {
	x, err1 := formatNet(a)
	y, err2 := formatNet(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// ownsBridge says whether the forward mode has a bridge of its own.
func ownsBridge(mode string) bool { return mode == "" || mode == "nat" || mode == "route" }

func (m *Manager) publish(h driver.Network, ev int32) {
	if m.cfg.Bus != nil {
		m.cfg.Bus.Publish(driver.NetworkEvent{Net: h, Event: ev})
	}
}

func (m *Manager) byName(name string) (*netObj, error) {
	if o := m.nets[name]; o != nil {
		return o, nil
	}
	return nil, errNet(virerr.ErrNoNetwork, "no network with matching name '%s'", name)
}

func (m *Manager) byUUID(u uuid.UUID) (*netObj, error) {
	for _, o := range m.nets {
		if o.def.UUID == u {
			return o, nil
		}
	}
	return nil, errNet(virerr.ErrNoNetwork, "no network with matching uuid '%s'", u)
}

// acquire finds the network of a handle (by UUID, as the wire does) and
// takes its operation lock; the caller unlocks o.op. A network removed
// while this waited is looked up again.
func (m *Manager) acquire(n driver.Network) (*netObj, error) {
	m.load()
	for {
		m.mu.Lock()
		o, err := m.byUUID(n.UUID)
		m.mu.Unlock()
		if err != nil {
			return nil, err
		}
		o.op.Lock()
		m.mu.Lock()
		ok := m.nets[o.def.Name] == o
		m.mu.Unlock()
		if ok {
			return o, nil
		}
		o.op.Unlock()
	}
}

// state is a copy of a network's state and handle, under mu.
func (m *Manager) state(o *netObj) netState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return o.netState
}

// forget removes a network's record (its operation lock is held).
func (m *Manager) forget(o *netObj) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nets[o.def.Name] == o {
		delete(m.nets, o.def.Name)
	}
}

// sortedNames lists the networks in name order.
func (m *Manager) sorted() []*netObj {
	out := make([]*netObj, 0, len(m.nets))
	for _, o := range m.nets {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].def.Name < out[j].def.Name })
	return out
}

// Autostart starts the networks marked autostart that are not active; the
// daemon calls it once at start.
func (m *Manager) Autostart() {
	m.load()
	m.autoOnce.Do(func() {
		m.mu.Lock()
		var handles []driver.Network
		for _, o := range m.sorted() {
			handles = append(handles, o.handle())
		}
		m.mu.Unlock()
		for _, h := range handles {
			o, err := m.acquire(h)
			if err != nil {
				continue
			}
			if st := m.state(o); st.autostart && !st.active {
				if err := m.start(o); err != nil {
					m.log.Error("network autostart failed", "network", h.Name, "err", err)
				}
			}
			o.op.Unlock()
		}
	})
}

// validName refuses names libvirt refuses.
func validName(name string) error {
	if strings.Contains(name, "/") {
		return errNet(virerr.ErrXMLError, "name %s cannot contain '/'", name)
	}
	return nil
}

// autostartMarked reports whether name has an autostart link: NAME.xml as
// libvirt names it, or the bare NAME earlier versions made.
func (m *Manager) autostartMarked(name string) bool {
	if _, err := os.Lstat(m.mustFiles(name).autostart); err == nil {
		return true
	}
	if old, err := safepath.Join(filepath.Join(m.cfg.StateDir, "autostart"), name, ""); err == nil {
		if fi, err := os.Lstat(old); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
	}
	return false
}

// cleanTemp removes atomicfile's stale temporary files from dir.
func cleanTemp(log *slog.Logger, dir string) {
	removed, err := atomicfile.CleanTemp(dir)
	if len(removed) > 0 {
		log.Info("removed stale temporary files", "dir", dir, "files", removed)
	}
	if err != nil {
		log.Warn("cannot remove stale temporary files", "dir", dir, "err", err)
	}
}
