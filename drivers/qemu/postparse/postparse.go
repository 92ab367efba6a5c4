// Package postparse applies what libvirt's QEMU driver fills in when it
// parses a domain definition (the post-parse callbacks of
// src/qemu/qemu_domain.c and the address assignment of
// src/qemu/qemu_domain_address.c): the canonical machine type, implicit
// controllers and devices, controller and device model defaults, PCI,
// drive, virtio-serial and USB addresses. libvirt does this when a
// definition is defined or created, so `virsh dumpxml` of an inactive
// guest shows it; the driver calls Apply at those points and the command
// line builder calls it again at start, where it changes nothing for a
// definition that went through it already.
package postparse

import (
	"errors"

	"govirt/conf"
	"govirt/virerr"
)

// Caps is what the defaults depend on in the QEMU binary; *caps.Caps
// implements it.
type Caps interface {
	Has(flag string) bool
	HasType(name string) bool
	DefaultMachine() string
	MachineAlias(name string) string
}

// Apply fills in libvirt's post-parse defaults and addresses on def, as
// when libvirt parses a definition (define, create): disks and
// controllers are first put in the order libvirt's parser keeps them.
// It only adds what is missing. An error means def uses something these
// defaults do not cover; def may then be partly changed, so callers apply
// it to a copy.
func Apply(def *conf.Domain, c Caps) error {
	return ApplyWith(def, c, Options{})
}

// Options are the host settings some defaults depend on; the zero value
// is libvirt's default qemu.conf in a daemon without audio environment.
type Options struct {
	Audio Audio
	// NewDomain is libvirt's VIR_DOMAIN_DEF_PARSE_ABI_UPDATE, set when a
	// definition is defined, created, changed with attach --config or
	// started: USB devices then get their addresses. Without it (libvirt's
	// xml2xml test harness) they are only checked, and only when all have
	// one.
	NewDomain bool
}

// Audio is what the default audio backend depends on besides the
// displays (qemuDomainDefSuggestDefaultAudioBackend): qemu.conf's host
// audio switches and the daemon's QEMU_AUDIO_DRV and SDL_AUDIODRIVER.
type Audio struct {
	VNCAllowHostAudio   bool
	NogfxAllowHostAudio bool
	DriverEnv           string // QEMU_AUDIO_DRV
	SDLDriverEnv        string // SDL_AUDIODRIVER
}

// ApplyWith is Apply with host settings.
func ApplyWith(def *conf.Domain, c Caps, o Options) error { return apply(def, c, true, o) }

// ApplyAtStart is what the command line builder applies at start: a
// definition the driver holds post-parsed already (PostParsed) is not
// parsed again by libvirt there, so the order of its disks and
// controllers is kept (it may have controllers the post-parse step
// appended after others) and it comes out unchanged; any other
// definition gets ApplyWith.
func ApplyAtStart(def *conf.Domain, c Caps, o Options) error {
	return apply(def, c, !def.PostParsed, o)
}

func apply(def *conf.Domain, c Caps, parsed bool, o Options) error {
	p := &pp{def: def, caps: c, opts: o, parsed: parsed}
	steps := []func() error{p.machine}
	if parsed {
		steps = append(steps, p.parseOrder)
	}
	steps = append(steps,
		p.controllerIndexes,
		p.defaultDevices,
		p.cpu,
		p.numaCPUs,
		p.devicePostParse,
		p.canonical,
		p.implicitDevices,
		p.assignVirtioSerial,
		p.assignSpaprVIO,
		p.assignPCI,
		p.assignUSB,
		p.sortDevices,
	)
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	def.PostParsed = true
	return nil
}

// pp carries one Apply.
type pp struct {
	def    *conf.Domain
	caps   Caps
	opts   Options
	parsed bool // the definition is being parsed (define, create)
	q35    bool
}

// Refused is a refusal libvirt itself makes at this step, as opposed to
// a definition these defaults do not cover (both are
// ErrConfigUnsupported): a caller that keeps a definition as written on
// the latter refuses it on this one (Refusal).
type Refused struct{ Err *virerr.Error }

func (r *Refused) Error() string { return r.Err.Error() }
func (r *Refused) Unwrap() error { return r.Err }

// Refusal returns libvirt's error inside err when err is a Refused, else
// nil.
func Refusal(err error) *virerr.Error {
	var r *Refused
	if errors.As(err, &r) {
		return r.Err
	}
	return nil
}

// refused marks one of libvirt's own ErrConfigUnsupported refusals.
func refused(format string, args ...any) error {
	return &Refused{virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, format, args...)}
}

func unsupported(format string, args ...any) error {
	return virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, format, args...)
}

// sortDevices writes devices in libvirt's order, kind by kind.
func (p *pp) sortDevices() error {
	p.def.SortDevices()
	p.def.SortTopLevel()
	return nil
}

func xmlError(format string, args ...any) error {
	return virerr.New(virerr.FromDomain, virerr.ErrXMLError, format, args...)
}

func internalError(format string, args ...any) error {
	return virerr.New(virerr.FromQemu, virerr.ErrInternalError, format, args...)
}
