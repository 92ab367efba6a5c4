// Package qemu is govirt's QEMU/KVM driver: guests run as QEMU processes
// managed over QMP, with state and reason following QMP events.
//
// Concurrency rules:
//   - Every guest (vm) has a small mutex for its cached state. It is never
//     held across a monitor command, a process wait or file I/O, so reads
//     (list, info, state, dumpxml) answer at once even when a guest's QEMU
//     is stuck.
//   - Modifying operations take the guest's job (one at a time, with a
//     timeout), then talk to QEMU without holding the state mutex.
//   - QMP events of one guest are handled in order on that monitor's event
//     goroutine; work that needs a job (fake reboot, crash handling,
//     stopping after EOF) is queued to the guest's own worker, in order.
//   - State follows its owner: what a subsystem keeps per guest lives in
//     the guest's vm (vm_ext.go) and goes with it; what it keeps per
//     driver lives in the Driver. Nothing package-level is keyed by guest
//     or driver, so an undefined or stopped transient guest leaves nothing.
//   - Monitor commands go through qmp's typed functions; QMP events are
//     decoded by qmp.DecodeEvent and dispatched from one table
//     (handleEvent in monitor_events.go).
package qemu

import (
	"context"
	"govirt/atomicfile"
	"govirt/internal/cgroup"
	"govirt/uuid"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"govirt/driver"
	"govirt/drivers/network"
	"govirt/drivers/nodedev"
	"govirt/drivers/nwfilter"
	"govirt/drivers/qemu/command"
	"govirt/drivers/secret"
	"govirt/drivers/storagepool"
	"govirt/events"
)

// Config says where the driver keeps its files.
type Config struct {
	StateDir string // persistent: definitions, autostart, logs, caps cache
	RunDir   string // runtime: status files, monitor sockets
	Emulator string // default emulator binary
	Log      *slog.Logger
	// VNCPortMin and VNCPortMax are the range VNC autoport allocates
	// from (libvirt's remote_display_port_min/max in qemu.conf); zero
	// means the default 5900 and 65535. Check them with CheckVNCPortRange.
	VNCPortMin, VNCPortMax int
	// Graphics are qemu.conf's display and audio settings; the zero
	// value is libvirt's default qemu.conf. QEMU_AUDIO_DRV and
	// SDL_AUDIODRIVER come from the daemon's environment, as libvirt's.
	Graphics command.GraphicsConfig
	// ChardevTLS is qemu.conf's TLS setting of TCP chardevs.
	ChardevTLS command.ChardevTLS
	// MigrateTLS is qemu.conf's migrate_tls_* settings (migrate_tls.go).
	MigrateTLS MigrateTLS
	// DefaultNetwork defines the 'default' NAT network at the driver's
	// first start (DefineDefaultNetwork).
	DefaultNetwork bool
	// HostUUID is libvirtd.conf's host_uuid (see ResolveHostUUID); zero
	// means the SMBIOS UUID, as libvirt's default host_uuid_source.
	HostUUID uuid.UUID
	// PeerSocket is the daemon's read-only socket, which migration
	// cookies name so that a peer daemon restarted mid-migration can ask
	// this one where the guest ended up (migrate_peer.go).
	PeerSocket string
	// User and Group are qemu.conf's user and group: QEMU runs as them,
	// without capabilities and with no_new_privs, and the DAC security
	// driver gives them each guest's files (security_dac.go). Empty
	// keeps QEMU as the daemon's user with no relabelling.
	User, Group string
	// NoDynamicOwnership is qemu.conf's dynamic_ownership = 0: QEMU
	// still changes user, files keep their owners.
	NoDynamicOwnership bool
	// Namespaces is qemu.conf's namespaces when NamespacesSet: "mount"
	// gives each QEMU a private /dev (namespace.go). Unset is libvirt's
	// default: on when the daemon is root and the kernel has mount
	// namespaces.
	Namespaces    []string
	NamespacesSet bool
	// SwtpmUser and SwtpmGroup are qemu.conf's swtpm_user and
	// swtpm_group; empty is libvirt's default, "tss" when the host has
	// that user and group, else root.
	SwtpmUser, SwtpmGroup string
}

// Driver is the QEMU driver; one per daemon.
type Driver struct {
	cfg    Config
	log    *slog.Logger
	bus    *events.Bus
	doms   *registry
	caps   capsSource
	uri    string
	dirs   dirs
	initMu sync.Mutex
	inited bool
	// fdGroups are the descriptors clients associated with guests
	// (fd_associate.go).
	fdGroups fdStore
	// defMu makes define and undefine each one step: the definition file
	// and the guest's persistent state change together, so a define racing
	// an undefine never leaves a file without a guest or the reverse.
	defMu sync.Mutex
	lists listCache // for CONNECT_LIST_ALL_DOMAINS (list_snap.go)
	// capsBlobs shares the status files' copy of QEMU's capabilities
	// among guests (caps_shared.go).
	capsBlobs capsShare
	// faultPoint is GOVIRT_FAULT_POINT: the migration step at which the
	// fault-injection tests have the daemon kill itself (faultAt).
	faultPoint string
	// recovering counts the guests whose reconnection (reconnect.go)
	// still runs in the background; recoveringWG waits for them.
	recovering   atomic.Int32
	recoveringWG sync.WaitGroup

	// State of the driver's subsystems, created and freed with the driver
	// (nothing package-level is keyed by driver or guest).
	pendingMu    sync.Mutex
	pendingBlock map[string]*blockState // block states read at start, by guest name
	migPorts     portSet                // incoming migration ports in use
	vncPorts     *portAllocator         // VNC autoport range (Config.VNCPortMin/Max)
	wsPorts      *portAllocator         // VNC websocket='-1' range (libvirt's 5700-65535)
	mgrMu        sync.Mutex
	networkMgr   *network.Manager     // created on first use (conn_network.go)
	storageMgr   *storagepool.Manager // created on first use (conn_storage.go)
	nodedevMgr   *nodedev.Manager     // created on first use (conn_nodedev.go)
	secretMgr    *secret.Manager      // created on first use (conn_secret.go)
	nwfilterMgr  *nwfilter.Manager    // created at Start or first use (conn_nwfilter.go)
	cgOnce       sync.Once
	cgHost       *cgroup.Host  // the host's cgroup mounts; nil without (cgroup_setup.go)
	guestCPUs    guestCPUCache // the vCPUs QEMU created, by what shaped them (guestcpu_cache.go)
	sec          secDriver     // QEMU's identity and the DAC driver (security_*.go)
	mountNS      bool          // a private /dev per QEMU (namespace.go)
	swtpmCred    *procCred     // who swtpm runs as (nil: root)
}

// dirs are the driver's directories, derived from Config.
type dirs struct {
	defs, autostart, save, logs, caps string // under StateDir/qemu
	nvram, swtpm                      string // under StateDir/qemu: UEFI varstores, TPM state
	status, domains                   string // under RunDir/qemu
	// channels holds each run's channel sockets, in libvirt's layout
	// (channel/target/domain-ID-NAME/TARGETNAME), under RunDir/qemu.
	channels string
}

// New creates the driver; Start loads definitions and reconnects guests.
func New(cfg Config) *Driver {
	if cfg.Emulator == "" {
		cfg.Emulator = "/usr/bin/qemu-system-x86_64"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	st, rt := filepath.Join(cfg.StateDir, "qemu"), filepath.Join(cfg.RunDir, "qemu")
	d := &Driver{
		cfg:  cfg,
		log:  cfg.Log.With("driver", "qemu"),
		bus:  events.New(),
		doms: newRegistry(),

		pendingBlock: map[string]*blockState{},
		migPorts:     portSet{used: map[int]bool{}},
		vncPorts:     newPortAllocator(cfg.VNCPortMin, cfg.VNCPortMax),
		wsPorts:      newPortAllocator(5700, 65535),
		dirs: dirs{
			defs: st, autostart: filepath.Join(st, "autostart"), save: filepath.Join(st, "save"),
			logs: filepath.Join(st, "log"), caps: filepath.Join(st, "capabilities"),
			nvram: filepath.Join(st, "nvram"), swtpm: filepath.Join(st, "swtpm"),
			status: rt, domains: filepath.Join(rt, "domain"),
			channels: filepath.Join(rt, "channel", "target"),
		},
	}
	d.uri = "qemu:///session"
	if os.Geteuid() == 0 {
		d.uri = "qemu:///system"
	}
	d.caps = newCapsSource(d.dirs.caps)
	d.guestCPUs.dir = d.dirs.caps
	d.faultPoint = os.Getenv("GOVIRT_FAULT_POINT")
	parseFaultDelay(d.log)
	return d
}

// Start prepares directories, loads persistent definitions and reconnects
// to running guests. It runs once, at daemon start, before clients come;
// it returns once every guest is registered, while the reconnections go
// on in the background (reconnectAll).
func (d *Driver) Start(ctx context.Context) error {
	d.initMu.Lock()
	defer d.initMu.Unlock()
	if d.inited {
		return nil
	}
	for _, p := range []string{d.dirs.defs, d.dirs.autostart, d.dirs.save, d.dirs.logs, d.dirs.caps, d.dirs.status, d.dirs.domains, d.dirs.nvram, d.dirs.swtpm} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	sec, err := newSecDriver(d.cfg.User, d.cfg.Group, d.cfg.NoDynamicOwnership)
	if err != nil {
		return err
	}
	d.sec = sec
	d.mountNS = mountNamespacesOn(d.cfg.Namespaces, d.cfg.NamespacesSet)
	if d.swtpmCred, err = swtpmIdentity(d.cfg.SwtpmUser, d.cfg.SwtpmGroup); err != nil {
		return err
	}
	d.openDirsForQEMU()
	d.cleanTemp()
	if err := d.loadDefinitions(); err != nil {
		return err
	}
	d.nwfilters() // loads filters and applies the bindings of running guests again
	d.reconnectAll(ctx)
	// Reconnecting adopted the block states of the guests it picked up
	// (their first status save); the rest belong to guests that are gone.
	go func() {
		d.WaitRecovered()
		d.pendingMu.Lock()
		clear(d.pendingBlock)
		d.pendingMu.Unlock()
	}()
	d.inited = true
	return nil
}

// Autostart starts the guests marked autostart that are not running.
// It waits for the reconnections Start began, as libvirt's autostart
// runs after its reconnection threads took their guests' jobs.
func (d *Driver) Autostart(ctx context.Context) {
	d.WaitRecovered()
	d.autostartAll(ctx)
}

// Name is the URI scheme.
func (*Driver) Name() string { return "qemu" }

// Open claims qemu:///system when root and qemu:///session otherwise.
func (d *Driver) Open(u *url.URL, readOnly bool) (driver.Conn, error) {
	if u.Scheme != "qemu" {
		return nil, nil
	}
	want := "/session"
	if os.Geteuid() == 0 {
		want = "/system"
	}
	if u.Path != want {
		return nil, errURI(u.String(), d.uri)
	}
	return &conn{d: d}, nil
}

// conn is one client connection; guest state lives in the Driver. The
// connection only tracks the migration steps it runs (migrate_client.go).
type conn struct {
	d *Driver

	stepMu      sync.Mutex
	stepsActive int  // migration steps running on this connection
	stepsClosed bool // the connection closed while one ran

	// A conn made by ForCall serves one call: base is the client's
	// connection, ctx ends when the client goes away, holder names the
	// call as libvirt names a job's owner.
	base   *conn
	ctx    context.Context
	holder string
}

// ForCall implements driver.CallScoper.
func (c *conn) ForCall(ctx context.Context, holder string) driver.Conn {
	return &conn{d: c.d, base: c.root(), ctx: ctx, holder: holder}
}

// root is the client's connection c serves.
func (c *conn) root() *conn {
	if c.base != nil {
		return c.base
	}
	return c
}

// waitCtx bounds waits for a guest's job: they end when the client does.
func (c *conn) waitCtx() context.Context {
	if c.ctx != nil {
		return c.ctx
	}
	return context.Background()
}

// owner is the job owner libvirt would show for op run by this call.
func (c *conn) owner(op string) string {
	if c.holder != "" {
		return c.holder
	}
	return apiName(op)
}

func (c *conn) Close() error {
	c.d.migrationConnClosed(c.root())
	c.d.fdGroups.connClosed(c.root())
	return nil
}
func (c *conn) URI() string         { return c.d.uri }
func (c *conn) Type() string        { return "QEMU" }
func (c *conn) Events() *events.Bus { return c.d.bus }

// cleanTemp removes the temporary files of atomicfile writes a killed
// daemon never finished, from every directory the driver writes that way:
// definitions, autostart markers, the capabilities cache, status files and
// each domain's snapshot metadata. Nothing else writes there yet.
func (d *Driver) cleanTemp() {
	dirs := []string{d.dirs.defs, d.dirs.autostart, d.dirs.caps, d.dirs.status}
	snaps := filepath.Join(d.dirs.defs, "snapshot")
	if ents, err := os.ReadDir(snaps); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(snaps, e.Name()))
			}
		}
	}
	for _, dir := range dirs {
		removed, err := atomicfile.CleanTemp(dir)
		if len(removed) > 0 {
			d.log.Info("removed stale temporary files", "dir", dir, "files", removed)
		}
		if err != nil {
			d.log.Warn("cannot remove stale temporary files", "dir", dir, "err", err)
		}
	}
}
