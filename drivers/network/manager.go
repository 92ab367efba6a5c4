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
type Manager struct {
	cfg      Config
	log      *slog.Logger
	loadOnce sync.Once
	autoOnce sync.Once

	mu   sync.Mutex
	nets map[string]*netObj
}

// netObj is one network. def is the persistent (or transient) definition,
// live the running one; newDef a definition given while active, which
// takes over when it stops.
type netObj struct {
	def        *conf.Network
	newDef     *conf.Network
	live       *conf.Network
	active     bool
	persistent bool
	autostart  bool
	dnsmasqPid int
}

func (o *netObj) handle() driver.Network { return driver.Network{Name: o.def.Name, UUID: o.def.UUID} }

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

func (m *Manager) saveStatus(o *netObj) error {
	data, err := formatNet(o.live)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(m.cfg.RunDir, 0o755); err != nil {
		return err
	}
	f, err := m.files(o.live.Name)
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
// each of those is still there.
func (m *Manager) load() {
	m.loadOnce.Do(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
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
			m.nets[def.Name] = &netObj{def: def, persistent: true, autostart: m.autostartMarked(def.Name)}
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
		o = &netObj{def: live.Clone()}
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
		m.cleanupInactive(o, x)
		if !o.persistent {
			delete(m.nets, live.Name)
		}
		return
	}
	o.active, o.live = true, live
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

func (m *Manager) publish(o *netObj, ev int32) {
	if m.cfg.Bus != nil {
		m.cfg.Bus.Publish(driver.NetworkEvent{Net: o.handle(), Event: ev})
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

// get finds the object of a handle, by UUID as the wire does.
func (m *Manager) get(n driver.Network) (*netObj, error) {
	m.load()
	return m.byUUID(n.UUID)
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
		defer m.mu.Unlock()
		for _, o := range m.sorted() {
			if o.autostart && !o.active {
				if err := m.start(o); err != nil {
					m.log.Error("network autostart failed", "network", o.def.Name, "err", err)
				}
			}
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
