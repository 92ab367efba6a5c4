// Package command turns a domain definition into the QEMU command line
// libvirt's QEMU driver would run for it, and records on the live
// definition everything it decided on the way (device aliases, PCI and
// drive addresses, -blockdev node names, MAC addresses, controllers it had
// to add), so the driver knows those names instead of scraping them back
// from QEMU.
//
// The builder implements a deliberate subset of libvirt. Everything it
// does not implement is refused with VIR_ERR_CONFIG_UNSUPPORTED naming
// the element or attribute: a guest silently started without a device the
// user asked for is worse than one that does not start.
package command

import (
	"govirt/conf"
	"govirt/virerr"
)

// Caps is what the builder needs to know about the QEMU binary. It is a
// subset of the QEMU driver's probed capabilities (*caps.Caps).
type Caps interface {
	// Has reports a libvirt capability flag ("blockdev", "device.json",
	// "seccomp-sandbox", ...).
	Has(flag string) bool
	// HasType reports a QOM type from qom-list-types ("virtio-blk-pci").
	HasType(name string) bool
	// DefaultMachine is the machine type used when <os><type> names none.
	DefaultMachine() string
	// MachineAlias maps an alias ("q35") to the canonical machine type
	// ("pc-q35-7.2"); it returns "" (or the name) when name is no alias.
	MachineAlias(name string) string
}

// Paths are the host files of one run of the domain.
type Paths struct {
	// Name is the domain's name as the driver knows it; informational,
	// def.Name is what goes on the command line.
	Name string
	// DomainDir is the per-domain run directory; sockets libvirt would
	// generate (VNC, guest agent) go there.
	DomainDir string
	// MonitorSocket is the QMP socket QEMU listens on.
	MonitorSocket string
	// MonitorFD, when above 2, is a descriptor QEMU inherits that already
	// listens on MonitorSocket (libvirt's fd=N): the caller can connect
	// at once instead of polling for the socket to appear.
	MonitorFD int
	// QGASocket is the host end of a guest agent channel
	// (org.qemu.guest_agent.0) that names no path; default
	// DomainDir/org.qemu.guest_agent.0.
	QGASocket string
	// LogFile is where the driver sends QEMU's stdout and stderr. The
	// builder only passes it through in Cmdline.
	LogFile string
	// VNCPort allocates a TCP port for <graphics type='vnc' autoport='yes'>
	// (libvirt uses 5900-65535). When nil, QEMU picks the first free
	// display itself (to=) and the driver reads it back with query-vnc.
	VNCPort func() (int, error)
	// Pretend builds the command line of a start that will not happen
	// (domxml-to-native): automatic ports get libvirt's placeholders
	// (5900 for VNC, 5901 for SPICE) instead of being allocated.
	Pretend bool
}

// Cmdline is the process to run.
type Cmdline struct {
	// Argv is the command, Argv[0] being the emulator.
	Argv []string
	// Env is the environment libvirt gives QEMU.
	Env []string
	// CustomEnv is the environment <qemu:commandline> adds (also in Env).
	CustomEnv []string
	// LogFile is Paths.LogFile.
	LogFile string
	// Taps are the tap devices QEMU creates for bridge interfaces and
	// that the driver must enslave to their bridge once QEMU runs.
	Taps []Tap
}

// Tap is a tap device QEMU creates (ifname=) and, for a bridge interface,
// the bridge it belongs to.
type Tap struct {
	IfName string
	Bridge string // "" for type='ethernet'
}

// unsupported is the error for configuration the builder does not
// implement.
func unsupported(format string, args ...any) error {
	return virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, format, args...)
}

// unsupportedElem names an element (path below <domain>) that is refused.
func unsupportedElem(path string) error {
	return unsupported("element <%s> is not supported by govirt's QEMU driver", path)
}

// unsupportedValue names an attribute value that is refused.
func unsupportedValue(path, attr, value string) error {
	return unsupported("<%s %s='%s'> is not supported by govirt's QEMU driver", path, attr, value)
}

// Build returns the QEMU command line for def and updates def, which must
// be the live definition of the run being started, with what libvirt
// records at start: aliases, addresses, node names, MACs and the
// controllers and default devices it adds. When Build fails, def is left
// unchanged.
func Build(def *conf.Domain, caps Caps, p Paths) (*Cmdline, error) {
	if def == nil {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrInternalError, "no domain definition")
	}
	if err := checkElements(def); err != nil {
		return nil, err
	}
	// Work on a copy so that a refused definition is left as it was.
	work := def.Clone()
	b := &builder{def: work, caps: caps, p: p}
	steps := []func() error{
		b.checkTop,
		b.prepareDefaults,
		b.assignDriveAddresses,
		b.assignAliases,
		b.assignPCI,
		b.assignNodeNames,
		b.emit,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if err := b.checkTypes(); err != nil {
		return nil, err
	}
	*def = *work
	return &Cmdline{Argv: b.args, Env: b.env(), CustomEnv: b.extraEnv, LogFile: p.LogFile, Taps: b.taps}, nil
}
