// Package nwfilter is libvirt 9.0's network filter driver for the QEMU
// connection (src/nwfilter, src/conf/nwfilter_conf.c,
// virnwfilterbindingdef.c): filter definitions with libvirt's XML, the
// filters libvirt ships (present on a fresh state directory, as Debian's
// libvirt-daemon-config-nwfilter installs them), and bindings of a filter
// to a guest's tap device, instantiated as ebtables/iptables/ip6tables
// rules by the ebiptables technology driver (ebiptables.go).
//
// Definitions are stored as UUID.xml under Config.Dir and bindings as
// HEX(portdev).xml under Config.BindingDir, each written to a temporary
// file, synced and renamed; names never become paths.
package nwfilter

import (
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"govirt/atomicfile"
	"govirt/uuid"
	"govirt/virerr"
)

//go:embed shipped/*.xml
var shipped embed.FS

// Tech applies the rules of a binding to its port, as libvirt's
// technology drivers (the ebiptables driver).
type Tech interface {
	// Apply replaces the port's rules with rules.
	Apply(b *Binding, rules []*InstRule) error
	// Teardown removes every rule of the port.
	Teardown(portdev string) error
}

// Config places the driver.
type Config struct {
	// Dir holds the filter definitions (libvirt's /etc/libvirt/nwfilter);
	// when it does not exist it is created with the shipped filters.
	Dir string
	// BindingDir holds the bindings (libvirt's /run/libvirt/nwfilter-binding),
	// re-applied when the daemon starts again.
	BindingDir string
	// Privileged is false for qemu:///session, where libvirt refuses
	// definitions and bindings.
	Privileged bool
	// Tech instantiates rules; nil applies none.
	Tech Tech
	// PortExists reports whether a port device exists (libvirt only
	// instantiates filters on existing devices); nil uses sysfs.
	PortExists func(name string) bool
	// LearnIP finds the IP address of a binding's guest interface (the
	// QEMU driver reads its network's DHCP leases); nil learns nothing.
	// A binding whose filters need IP and lack it asks every second
	// until it answers or the binding goes.
	LearnIP func(b *Binding) (string, bool)
	// SniffIP learns the address from the port's own traffic (SniffIP
	// in sniff.go, libvirt's learnIPAddressThread) beside LearnIP; nil
	// does not sniff. howDetect is detectDHCP, or with detectStatic too
	// (CTRL_IP_LEARNING dhcp or any).
	SniffIP func(port string, mac [6]byte, howDetect int, stop <-chan struct{}) (string, bool)
	Log     *slog.Logger
}

// Manager is the driver; its methods are safe for concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	filters  map[uuid.UUID]*Filter
	bindings map[string]*Binding
	learners map[string]chan struct{} // by port: closed to stop learning
}

// New loads the definitions and bindings and applies the bindings again.
func New(cfg Config) *Manager {
	m := &Manager{cfg: cfg, log: cfg.Log, filters: map[uuid.UUID]*Filter{}, bindings: map[string]*Binding{}, learners: map[string]chan struct{}{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.cfg.PortExists == nil {
		m.cfg.PortExists = sysfsPortExists
	}
	m.loadFilters()
	m.loadBindings()
	m.mu.Lock()
	for _, b := range m.sortedBindings() {
		if err := m.instantiate(b, nil); err != nil {
			m.log.Warn("cannot apply the network filter binding again", "portdev", b.PortDev, "filter", b.Filter, "err", err)
		}
	}
	m.mu.Unlock()
	return m
}

// sysfsPortExists is virNetDevExists for a name that is a valid
// interface name (anything else cannot name a device).
func sysfsPortExists(name string) bool {
	if !validIfName(name) {
		return false
	}
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

func validIfName(name string) bool {
	return name != "" && len(name) < 16 && name != "." && name != ".." && !strings.ContainsAny(name, "/ \t\n\x00:")
}

func (m *Manager) loadFilters() {
	entries, err := os.ReadDir(m.cfg.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		m.seed()
		return
	}
	if err != nil {
		m.log.Error("cannot read the network filter directory", "dir", m.cfg.Dir, "err", err)
		return
	}
	_, _ = atomicfile.CleanTemp(m.cfg.Dir)
	var defs []*Filter
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".xml") || atomicfile.IsTemp(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(m.cfg.Dir, e.Name()))
		if err == nil {
			var f *Filter
			if f, err = ParseFilter(data, 0); err == nil {
				defs = append(defs, f)
				continue
			}
		}
		m.log.Warn("skipping a network filter definition", "file", e.Name(), "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range defs {
		if err := m.assign(f); err != nil {
			m.log.Warn("skipping a network filter definition", "filter", f.Name, "err", err)
		}
	}
}

// seed writes the filters libvirt ships into a new directory, each with
// a new UUID, as libvirtd does when it first loads them.
func (m *Manager) seed() {
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		m.log.Error("cannot create the network filter directory", "dir", m.cfg.Dir, "err", err)
		return
	}
	files, _ := fs.Glob(shipped, "shipped/*.xml")
	sort.Strings(files)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range files {
		data, _ := shipped.ReadFile(name)
		f, err := ParseFilter(data, 0)
		if err == nil {
			if err = m.assign(f); err == nil {
				err = m.save(f)
			}
		}
		if err != nil {
			m.log.Error("cannot install a shipped network filter", "file", name, "err", err)
		}
	}
}

func (m *Manager) configPath(u uuid.UUID) string { return filepath.Join(m.cfg.Dir, u.String()+".xml") }

func (m *Manager) save(f *Filter) error {
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		return errf(virerr.ErrInternalError, "cannot create config directory '%s'", m.cfg.Dir)
	}
	return atomicfile.Write(m.configPath(f.UUID), []byte(f.Format()), 0o600)
}

// bindingPath names a binding's file by its port device in hex, so no
// client-chosen name is ever a path.
func (m *Manager) bindingPath(portdev string) string {
	return filepath.Join(m.cfg.BindingDir, hex.EncodeToString([]byte(portdev))+".xml")
}

func (m *Manager) saveBinding(b *Binding) error {
	if err := os.MkdirAll(m.cfg.BindingDir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(m.bindingPath(b.PortDev), []byte(b.Format()), 0o600)
}

func (m *Manager) loadBindings() {
	entries, err := os.ReadDir(m.cfg.BindingDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.log.Error("cannot read the network filter binding directory", "dir", m.cfg.BindingDir, "err", err)
		}
		return
	}
	_, _ = atomicfile.CleanTemp(m.cfg.BindingDir)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".xml") || atomicfile.IsTemp(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(m.cfg.BindingDir, e.Name()))
		if err == nil {
			var b *Binding
			if b, err = ParseBinding(data, 0); err == nil {
				m.bindings[b.PortDev] = b
				continue
			}
		}
		m.log.Warn("skipping a network filter binding", "file", e.Name(), "err", err)
	}
}

func (m *Manager) byName(name string) *Filter {
	for _, f := range m.filters {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func (m *Manager) sortedFilters() []*Filter {
	out := make([]*Filter, 0, len(m.filters))
	for _, f := range m.filters {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (m *Manager) sortedBindings() []*Binding {
	out := make([]*Binding, 0, len(m.bindings))
	for _, b := range m.bindings {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PortDev < out[j].PortDev })
	return out
}
