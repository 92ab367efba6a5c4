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
	"govirt/drivers/qemu/postparse"
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
	// AutoNodeset is numad's advice for <numatune><memory
	// placement='auto'> (libvirt's priv->autoNodeset): the host nodes
	// of the guest's memory backends. nil outside a start.
	AutoNodeset []int
	// MonitorFD, when above 2, is a descriptor QEMU inherits that already
	// listens on MonitorSocket (libvirt's fd=N): the caller can connect
	// at once instead of polling for the socket to appear.
	MonitorFD int
	// ChannelDir is the run's channel directory (libvirt's
	// channelTargetDir/domain-ID-NAME): the unix sockets of virtio
	// channels that name no path go there, named after the channel.
	// Empty: DomainDir.
	ChannelDir string
	// QGASocket is the host end of a guest agent channel
	// (org.qemu.guest_agent.0) that names no path; default
	// DomainDir/org.qemu.guest_agent.0.
	QGASocket string
	// LogFile is where the driver sends QEMU's stdout and stderr. The
	// builder only passes it through in Cmdline.
	LogFile string
	// MasterKey is the file holding the domain's master key, which QEMU
	// loads as secret object masterKey0 and which encrypts the other
	// secrets passed to it (libvirt's DomainDir/master-key.aes); the
	// caller writes it before QEMU starts. Empty leaves it out.
	MasterKey string
	// VNCPort allocates a TCP port for <graphics type='vnc' autoport='yes'>
	// (libvirt uses 5900-65535). When nil, QEMU picks the first free
	// display itself (to=) and the driver reads it back with query-vnc.
	VNCPort func() (int, error)
	// OpenVsock opens the host's /dev/vhost-vsock for the guest's
	// <vsock>, gives it cid (or, when auto, the first free CID from 3)
	// and returns the descriptor number QEMU inherits it as and the CID
	// set. nil refuses <vsock>.
	OpenVsock func(cid uint32, auto bool) (fd int, got uint32, err error)
	// OpenTap creates (or opens) the tap of a bridge, network or
	// ethernet interface and returns its name and the descriptors QEMU
	// inherits. nil lets QEMU create the tap by name (ifname=).
	OpenTap func(TapRequest) (TapResult, error)
	// OpenVhostNet opens /dev/vhost-net once per queue for a virtio NIC
	// on a tap; nil (or an error) leaves vhost off unless <driver
	// name='vhost'> asks for it.
	OpenVhostNet func(queues int) ([]int, error)
	// PasstSocket names the socket of an interface's passt; nil puts it
	// in DomainDir (ALIAS-passt.socket).
	PasstSocket func(alias string) string
	// SCSIGeneric finds the /dev/sgN of a host SCSI device (H:B:T:U);
	// nil reads sysfs.
	SCSIGeneric func(addr string) (string, error)
	// Host describes the host (hugetlbfs mounts, host NUMA nodes,
	// firmware descriptors); nil reads the real system.
	Host *Host
	// SwtpmSocket is where the swtpm of an emulated TPM listens, which
	// the caller starts; "" refuses the emulator backend.
	SwtpmSocket string
	// OpenFD opens a host file for QEMU (flag as os.OpenFile) and
	// returns the descriptor number QEMU will have it as; nil makes it a
	// HostFile of Cmdline.Files, which the caller opens.
	OpenFD func(path string, flag int) (int, error)
	// FDGroup hands QEMU copies of the descriptors a client associated
	// with the guest under name (virDomainFDAssociate) for a disk's
	// <source fdgroup>; nil refuses such disks as libvirt refuses a group
	// nobody associated.
	FDGroup func(name string) (FDGroup, error)
	// SpicePort allocates the TCP ports of <graphics type='spice'> with
	// autoport (port, then tlsPort: libvirt takes both from the same
	// range as VNC). When nil, VNCPort is used; with neither, SPICE
	// autoport is refused.
	SpicePort func() (int, error)
	// WebsocketPort allocates <graphics type='vnc' websocket='-1'>
	// (libvirt's 5700-65535 range); nil refuses it.
	WebsocketPort func() (int, error)
	// Graphics are the host's display and audio settings (qemu.conf's
	// vnc_*, spice_*, *_allow_host_audio and the daemon's audio
	// environment).
	Graphics GraphicsConfig
	// RenderNode finds the host's DRM render node for OpenGL displays that
	// name none (libvirt takes the first /dev/dri/renderD*); nil refuses
	// such a display.
	RenderNode func() (string, error)
	// MasterKeyData is the content of MasterKey: secrets given to QEMU
	// on the command line (the VNC TLS key password) are encrypted with
	// it, as libvirt does. Empty makes such secrets refused.
	MasterKeyData []byte
	// RandomIV returns the 16 bytes of a secret's AES-CBC initialisation
	// vector; nil reads crypto/rand.
	RandomIV func() ([]byte, error)
	// NetworkAddress is the address a display with <listen
	// type='network'> listens on: the named network's own address
	// (qemuProcessGetNetworkAddress); nil refuses such listens.
	NetworkAddress func(network string) (string, error)
	// SecretValue looks a secret's value up by UUID (for
	// GraphicsConfig.VNCTLSSecretUUID); nil refuses needing one.
	SecretValue func(uuid string) ([]byte, error)
	// VhostUserGPU starts the vhost-user-gpu process of a <video> with
	// <driver name='vhostuser'> (alias, its render node and whether 3D
	// acceleration is on) and returns the descriptor number QEMU has its
	// end of the connection as (libvirt's qemuVhostUserGPUStart); nil
	// refuses such video.
	VhostUserGPU func(alias, rendernode string, gl bool) (int, error)
	// IsCDROM reports whether a host block device is a CD-ROM drive,
	// which QEMU opens as host_cdrom; nil probes the device (IsCDROM).
	IsCDROM func(path string) bool
	// Secrets looks up the secrets disks name in <auth> and
	// <encryption>, by UUID or usage; nil refuses such disks.
	Secrets SecretLookup
	// HostFD, when set, numbers the descriptor QEMU gets for a host
	// file or socket the driver opens for it (log tells a chardev's log
	// from its source). When nil, descriptors follow MonitorFD (or 2)
	// one by one, in the order of Cmdline.Files.
	HostFD func(f HostFile, log bool) int
	// ChardevTLS is qemu.conf's TLS setting of TCP chardevs.
	ChardevTLS ChardevTLS
	// Storage is qemu.conf's storage settings (NBD TLS).
	Storage StorageConfig
	// SourceExists reports whether a local disk image exists, for
	// <source startupPolicy>; nil asks the file system.
	SourceExists func(path string) bool
	// ResetNVRAM is start --reset-nvram: the varstore is made anew from
	// its template, which is looked up as for a varstore not made yet.
	ResetNVRAM bool
	// Pretend builds the command line only to show it (domxml-to-native),
	// as libvirt's pretend start (VIR_QEMU_PROCESS_START_PRETEND), which
	// skips the host preparation: chardev files, logs and listening
	// sockets are named by path instead of passed as descriptors, a tap
	// gets descriptor numbers (and vhost-net ones when the host has
	// /dev/vhost-net) without anything being created, an emulated TPM's
	// chardev is null (no swtpm runs) and vsock's vhostfd is -1. A real
	// start never sets it.
	Pretend bool
}

// ChardevTLS is how TCP chardevs use TLS (qemu.conf's chardev_tls,
// chardev_tls_x509_cert_dir and chardev_tls_x509_verify).
type ChardevTLS struct {
	// Default turns TLS on for TCP chardevs whose <source> has no tls=.
	Default bool
	// Dir holds the x509 certificates; "" is /etc/pki/qemu.
	Dir string
	// Verify makes a listening chardev check its clients' certificates
	// (a connecting one always checks its server's).
	Verify bool
	// SecretUUID names the secret holding the certificates' key
	// password (chardev_tls_x509_secret_uuid); "" uses none.
	SecretUUID string
}

// Cmdline is the process to run.
type Cmdline struct {
	// Argv is the command, Argv[0] being the emulator.
	Argv []string
	// Env is the environment libvirt gives QEMU.
	Env []string
	// LogFile is Paths.LogFile.
	LogFile string
	// Taps are the tap devices QEMU creates for bridge interfaces and
	// that the driver must enslave to their bridge once QEMU runs.
	Taps []Tap
	// UserEnv are the variables of <qemu:commandline>'s <qemu:env>,
	// also at the end of Env.
	UserEnv []string
	// Taints are libvirt's taint flags the definition earns the run
	// ("custom-argv", "custom-device", "custom-hypervisor-feature").
	Taints []string
	// Files are the files and sockets the driver opens and QEMU
	// inherits, each as descriptor FD.
	Files []HostFile
	// VirtioFS are the virtiofsd daemons to start before QEMU.
	VirtioFS []VirtioFS
	// NVRAM is the UEFI varstore file QEMU opens and NVRAMTemplate the
	// image to create it from when it does not exist yet, which the
	// driver does before starting QEMU (libvirt's qemuPrepareNVRAM).
	NVRAM, NVRAMTemplate string
	// HostPCI are the host PCI functions passed through with vfio-pci.
	HostPCI []HostPCI
	// Passt are the passt daemons of user interfaces with the passt
	// backend, to start before QEMU.
	Passt []Passt
	// Swtpm is the emulated TPM the driver must start (swtpm listening
	// on Paths.SwtpmSocket) before QEMU; nil without one.
	Swtpm *Swtpm
	// WriteFiles are written by the driver before QEMU starts (SEV
	// certificate and session blobs QEMU reads).
	WriteFiles []WriteFile
	// Pinning is where QEMU's threads may run; nil for anywhere.
	Pinning *Pinning
	// MemoryDirs are the directories QEMU creates file-backed guest RAM
	// in (hugetlbfs or the memory backing directory); the driver makes
	// them before QEMU starts.
	MemoryDirs []string
	// MemoryFiles are the RAM files QEMU creates there (outside
	// hugetlbfs), which the driver removes when the run ends.
	MemoryFiles []string
}

// WriteFile is a file the driver writes for QEMU.
type WriteFile struct {
	Path string
	Data []byte
}

// Swtpm is an emulated TPM's backend process.
type Swtpm struct {
	Version    string // "1.2" or "2.0"
	Socket     string
	SecretUUID string // <encryption secret=''>: the state is encrypted
	// PersistentState keeps the state when the guest is undefined.
	PersistentState bool
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
	// libvirt's parse-time refusals of disks come before anything else.
	if err := precheckDisks(def); err != nil {
		return nil, err
	}
	if err := checkResctrlHost(def); err != nil {
		return nil, err
	}
	// What the user wrote is checked first, so a refusal names it.
	if err := checkElements(def); err != nil {
		return nil, err
	}
	// Work on a copy so that a refused definition is left as it was.
	work := def.Clone()
	b := &builder{def: work, caps: caps, p: p, cacheTree: true}
	if b.p.OpenFD == nil {
		// Files QEMU gets by descriptor are opened by the caller with
		// the chardev files (Cmdline.Files).
		b.p.OpenFD = b.openFD
	}
	// libvirt's post-parse defaults and addresses, which the driver
	// applies at define already; a definition that went through them is
	// left as it is, so an older one without them builds the same. The
	// default audio backend follows the host's display settings.
	if err := postparse.ApplyAtStart(work, caps, postparse.Options{Audio: p.Graphics.audioDefaults(), NewDomain: true}); err != nil {
		if r := postparse.Refusal(err); r != nil {
			return nil, r
		}
		return nil, err
	}
	if err := checkElements(work); err != nil {
		return nil, err
	}
	steps := []func() error{
		b.parseQemuNS,
		b.checkTop,
		b.prepareDisks,
		b.prepareDefaults,
		b.assignDriveAddresses,
		b.assignAliases,
		b.assignPCI,
		b.assignUSB,
		b.assignNodeNames,
		b.prepareACPIIndexes,
		b.emit,
		b.preparePinning,
	}
	for _, s := range steps {
		// A step may change the definition the next one reads.
		b.treeCache = nil
		if err := s(); err != nil {
			return nil, err
		}
	}
	b.treeCache = nil
	if err := b.checkTypes(); err != nil {
		return nil, err
	}
	*def = *work
	cl := &Cmdline{Argv: b.args, Env: b.env(), LogFile: p.LogFile, Taps: b.taps, VirtioFS: b.virtiofs, HostPCI: b.hostPCI,
		Files: b.files, UserEnv: b.userEnv(), Taints: b.taints(), Passt: b.passts}
	cl.NVRAM, cl.NVRAMTemplate = b.nvramSetup()
	cl.Swtpm = b.swtpm
	cl.WriteFiles = b.writeFiles
	cl.Pinning = b.pin
	cl.MemoryDirs = b.memDirs
	cl.MemoryFiles = b.memFiles
	return cl, nil
}
