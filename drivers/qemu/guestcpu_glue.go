package qemu

import (
	"context"
	"sync"

	"govirt/conf"
	"govirt/drivers/qemu/caps"
	"govirt/drivers/qemu/guestcpu"
	"govirt/internal/cpux86"
	"govirt/virerr"
)

// guestCPUHost gives the guest CPU preparation libvirt's three host CPUs
// of a QEMU binary's capabilities.
type guestCPUHost struct{ c *caps.Caps }

// HostModelCPUMigratable decodes the host-model CPU once per capabilities
// and virt type (a millisecond of CPU on every start otherwise); each
// caller gets its own copy.
func (g guestCPUHost) HostModelCPUMigratable(vt string) (*cpux86.CPUDef, error) {
	k := hostModelKey{g.c, vt}
	hostModelMemo.Lock()
	def, ok := hostModelMemo.m[k]
	hostModelMemo.Unlock()
	if !ok {
		var err error
		if def, err = g.c.HostModelCPUMigratable(vt); err != nil {
			return nil, err
		}
		hostModelMemo.Lock()
		// Bounded: capabilities read again (a changed binary) make new
		// keys, and the old ones go with the next reset.
		if hostModelMemo.m == nil || len(hostModelMemo.m) >= 16 {
			hostModelMemo.m = map[hostModelKey]*cpux86.CPUDef{}
		}
		hostModelMemo.m[k] = def
		hostModelMemo.Unlock()
	}
	if def == nil {
		return nil, nil
	}
	c := *def
	c.Features = append([]cpux86.FeatureDef(nil), def.Features...)
	return &c, nil
}

type hostModelKey struct {
	c  *caps.Caps
	vt string
}

var hostModelMemo struct {
	sync.Mutex
	m map[hostModelKey]*cpux86.CPUDef
}

func (g guestCPUHost) CPUFeaturesFor(vt string) []string { return g.c.CPUFeaturesFor(vt) }

// HostModelCPUFull is the host-model CPU under TCG; under KVM it is the
// host's CPUID with what QEMU's host-model adds (libvirt reads the host
// CPU for accelerated domains only).
func (g guestCPUHost) HostModelCPUFull(vt string) (*cpux86.CPUDef, error) {
	rep, err := g.c.HostModelCPU(vt)
	if err != nil || rep == nil || vt == "qemu" {
		return rep, err
	}
	host, err := hostCPU()
	if err != nil || host == nil {
		return rep, nil
	}
	m, err := cpux86.Get()
	if err != nil {
		return nil, err
	}
	return m.FullHostCPU(host, rep)
}

// prepareGuestCPU rewrites the <cpu> of a starting guest's live
// definition into the CPU QEMU is asked for.
func prepareGuestCPU(live *conf.Domain, qc *caps.Caps, incoming bool) error {
	return guestcpu.Prepare(live, guestCPUHost{qc}, incoming)
}

// updateLiveGuestCPU reads the CPU the paused QEMU created, refuses the
// start when it is not what the definition demands, and records it in
// the live definition; the caller's status write keeps it.
// cpuKey is guestCPUKey of the command line QEMU was started with ("":
// always read).
func (d *Driver) updateLiveGuestCPU(ctx context.Context, v *vm, mon monitor, cpuKey string) error {
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	if live == nil || (live.OS.Arch != "" && live.OS.Arch != "x86_64" && live.OS.Arch != "i686") {
		return nil
	}
	var enabled, disabled *cpux86.GuestData
	var err error
	if cpuKey != "" {
		enabled, disabled, err = d.guestCPUs.fetch(ctx, cpuKey, mon)
	} else {
		enabled, disabled, err = guestcpu.Fetch(ctx, mon)
	}
	if err != nil {
		return errQEMU(virerr.ErrInternalError, "cannot read the guest CPU of '%s': %v", v.name, err)
	}
	upd := live.Clone()
	orig, err := guestcpu.Apply(upd, enabled, disabled)
	if err != nil {
		return err
	}
	v.mu.Lock()
	if v.live == live {
		v.live = upd
		// A CPU restored from a save image keeps the one it was first
		// started with.
		if v.origCPU == nil {
			v.origCPU = orig
		}
	}
	v.mu.Unlock()
	return nil
}

// updateCPUForXML applies dumpxml --update-cpu to a copy of a
// definition, with the running QEMU's capabilities or, for an inactive
// guest, its emulator's.
func (c *conn) updateCPUForXML(def *conf.Domain, qc *caps.Caps) error {
	if def.CPU == nil {
		return nil
	}
	if qc == nil {
		emu := def.Devices.Emulator
		if emu == "" {
			emu = c.d.cfg.Emulator
		}
		var err error
		if qc, err = c.d.caps.get(context.Background(), emu); err != nil {
			return err
		}
	}
	return guestcpu.UpdateForXML(def, guestCPUHost{qc})
}
