package conf

import "govirt/uuid"

// Domain is a <domain> document. Typed fields are what drivers act on; all
// other content is kept by the implementation and written back by Format.
// Memory values are KiB.
type Domain struct {
	Type        string // <domain type='kvm|qemu|test'>
	ID          int    // live id, -1 when inactive (only formatted for live XML)
	Name        string
	UUID        uuid.UUID
	GenID       string
	Title       string
	Description string

	MaxMemory     uint64 // <maxMemory> KiB, 0 when absent
	MaxMemSlots   uint
	Memory        uint64 // <memory> KiB
	CurrentMemory uint64 // <currentMemory> KiB (defaults to Memory)

	VCPUs         uint   // <vcpu> maximum
	CurrentVCPUs  uint   // <vcpu current=''>, defaults to VCPUs
	VCPUPlacement string // static|auto; parsing fills in libvirt's default
	CPUSet        string // <vcpu cpuset=''>

	OS OS

	// Lifecycle actions; parsing fills in libvirt's defaults (destroy,
	// restart, destroy).
	OnPoweroff string // destroy|restart|preserve|rename-restart
	OnReboot   string
	OnCrash    string // destroy|restart|preserve|rename-restart|coredump-destroy|coredump-restart

	ClockOffset string // <clock offset=''>; utc when <clock> is absent

	Features []string // names of the children of <features>, in order

	CPU *CPU // nil when <cpu> is absent

	Devices Devices

	// PostParsed is set by the QEMU driver's post-parse step
	// (drivers/qemu/postparse) once it has filled in libvirt's defaults;
	// it is not part of the XML, so a definition read back from a file
	// is parsed (and ordered) afresh, as libvirt does when it loads one.
	PostParsed bool

	x *node // everything else; owned by the implementation
}

// OS is <os>.
type OS struct {
	Type    string // hvm, linux, exe, ...
	Arch    string
	Machine string
	Loader  string
	Kernel  string
	Initrd  string
	Cmdline string
	Boot    []string // <boot dev=''> in order
}

// CPU is the subset of <cpu> drivers act on.
type CPU struct {
	Mode    string
	Match   string
	Model   string
	Sockets uint
	Dies    uint
	Cores   uint
	Threads uint
}

// Devices is <devices>. Devices of kinds without a typed list are kept in
// the document untouched, in their original order.
type Devices struct {
	Emulator    string
	Disks       []*Disk
	Controllers []*Controller
	Interfaces  []*Interface
	Graphics    []*Graphics
	Serials     []*Chardev
	Consoles    []*Chardev
	Channels    []*Chardev
	Inputs      []*Input
	Sounds      []*Sound
	Audios      []*Audio
	Videos      []*Video
	MemBalloon  *MemBalloon
	Watchdogs   []*Watchdog
	RNGs        []*RNG
	Panics      []*Panic
}

// Address is a device <address>; Type is "" when absent.
type Address struct {
	Type       string // pci, drive, virtio-serial, ccw, usb, isa, ...
	Domain     uint
	Bus        uint
	Slot       uint
	Function   uint
	Multifunc  string
	Controller uint
	Target     uint
	Unit       uint
	Port       string
}

// DiskSource is a disk's <source> or a <backingStore>.
type DiskSource struct {
	Type     string // file, block, dir, network, volume, nvme, vhostuser
	Format   string // <driver type=''> on a disk, <format type=''> in a backingStore
	Path     string // file=, dev= or dir= depending on Type
	Protocol string // network
	Name     string // network name=
	Pool     string // volume pool=
	Volume   string // volume volume=
	Index    int    // index='' attribute, 0 when unset
	// Backing is the next <backingStore> down; nil when absent. An empty
	// <backingStore/> (chain end marker) is a DiskSource with Type "".
	Backing *DiskSource
	// NodeName / NodeNameFormat are the -blockdev node names (live only).
	NodeName       string
	NodeNameFormat string
}

// Disk is <disk>.
type Disk struct {
	Device     string // disk, cdrom, floppy, lun
	DriverName string // <driver name=''>
	Cache      string
	IO         string
	Discard    string
	Source     DiskSource
	// Mirror is the destination of a running block copy or active
	// commit (<mirror>, live XML only); nil when none.
	Mirror    *DiskMirror
	TargetDev string
	TargetBus string
	Tray      string // open|closed, "" when unset
	ReadOnly  bool
	Shareable bool
	Serial    string
	BootOrder uint
	Alias     string
	Address   Address
	x         *node
}

// Controller is <controller>.
type Controller struct {
	Type    string
	Index   int
	Model   string
	Alias   string
	Address Address
	x       *node
}

// Interface is <interface>.
type Interface struct {
	Type      string // network, bridge, user, ethernet, direct, ...
	MAC       string
	Network   string // <source network=''>
	Bridge    string // <source bridge=''>
	SourceDev string // <source dev=''>
	Model     string
	TargetDev string
	Alias     string
	Address   Address
	x         *node
}

// Graphics is <graphics>.
type Graphics struct {
	Type     string // vnc, spice, sdl, ...
	Port     int    // -1 with autoport
	TLSPort  int
	AutoPort bool
	Listen   string
	Passwd   string // only formatted with FormatSecure
	Socket   string
	x        *node
}

// Chardev is <serial>, <console>, <channel> or <parallel>.
type Chardev struct {
	Type       string // pty, unix, file, tcp, ...
	SourcePath string // <source path=''> or pty path
	SourceMode string
	TargetType string
	TargetPort int
	TargetName string
	Alias      string
	x          *node
}

// Input is <input>.
type Input struct {
	Type string
	Bus  string
	x    *node
}

// Video is <video>.
type Video struct {
	Model string
	x     *node
}

// MemBalloon is <memballoon>.
type MemBalloon struct {
	Model   string
	Period  int
	Alias   string
	Address Address
	x       *node
}

// Watchdog is <watchdog>.
type Watchdog struct {
	Model  string
	Action string
	x      *node
}

// RNG is <rng>.
type RNG struct {
	Model   string
	Backend string
	x       *node
}

// Sound is <sound>: an emulated sound card. Codecs, the audio backend
// reference, alias and address stay in its element.
type Sound struct {
	Model string
	x     *node
}

// Audio is <audio>: a host audio backend that sound cards and displays
// refer to by ID. Its backend settings stay in its element.
type Audio struct {
	ID   int
	Type string
	x    *node
}

// Panic is <panic>.
type Panic struct {
	Model string
	x     *node
}
