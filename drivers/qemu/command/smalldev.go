package command

import (
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
)

// watchdogActions are libvirt's watchdog actions; QEMU's -watchdog-action
// takes them as they are, except dump (see emitWatchdogs).
var watchdogActions = []string{"reset", "shutdown", "poweroff", "pause", "dump", "none", "inject-nmi"}

func (b *builder) emitWatchdogs() error {
	ws := b.def.Devices.Watchdogs
	if len(ws) > 1 {
		return unsupported("more than one watchdog is not supported by govirt's QEMU driver")
	}
	for _, w := range ws {
		if w.Action == "" {
			w.Action = "reset"
		}
		if !slices.Contains(watchdogActions, w.Action) {
			return unsupportedValue("devices/watchdog", "action", w.Action)
		}
		alias := attr(child(conf.DeviceElement(w), "alias"), "name")
		a := conf.DeviceAddress(w)
		switch w.Model {
		case "i6300esb":
			if a.Type != "" && a.Type != "pci" {
				return unsupported("%s model of watchdog can go only on PCI bus", w.Model)
			}
			b.device(b.pciProps(obj{}.set("driver", "i6300esb").set("id", alias), a))
		case "ib700":
			if a.Type != "" {
				return unsupported("%s model of watchdog does not support configuring the address", w.Model)
			}
			if b.q35 {
				return unsupported("watchdog model 'ib700' needs an ISA bus, which q35 lacks")
			}
			b.device(obj{}.set("driver", "ib700").set("id", alias))
		case "itco":
			if !b.q35 {
				return unsupported("watchdog model 'itco' is part of the q35 chipset")
			}
			// The ICH9's own TCO watchdog; it only needs enabling.
			b.add("-global", "ICH9-LPC.noreboot=off")
		case "diag288":
			return unsupported("%s model of watchdog is allowed for s390 and s390x only", w.Model)
		default:
			return unsupportedValue("devices/watchdog", "model", w.Model)
		}
		// QEMU has no dump action: libvirt has QEMU pause and dumps
		// the guest itself when the watchdog event comes.
		action := w.Action
		if action == "dump" {
			action = "pause"
		}
		b.add("-watchdog-action", action)
	}
	return nil
}

func (b *builder) emitBalloon() error {
	m := b.def.Devices.MemBalloon
	if m.Model == "none" {
		return nil
	}
	if ok, _ := virtioModel(m.Model); !ok {
		return unsupportedValue("devices/memballoon", "model", m.Model)
	}
	e := conf.DeviceElement(m)
	o, err := b.virtioDevice("virtio-balloon", m.Model, child(e, "driver"))
	if err != nil {
		return err
	}
	o = o.set("id", m.Alias)
	for _, a := range []struct{ attr, prop string }{{"autodeflate", "deflate-on-oom"}, {"freePageReporting", "free-page-reporting"}} {
		v, err := tristate(e, a.attr)
		if err != nil {
			return err
		}
		if v != nil {
			o = o.set(a.prop, *v)
		}
	}
	b.device(b.pciProps(o, m.Address))
	return nil
}

// rngSources are the host entropy devices libvirt accepts.
var rngSources = []string{"/dev/random", "/dev/urandom", "/dev/hwrng"}

func (b *builder) emitRNGs() error {
	for _, r := range b.def.Devices.RNGs {
		if ok, _ := virtioModel(r.Model); !ok {
			return unsupportedValue("devices/rng", "model", r.Model)
		}
		e := conf.DeviceElement(r)
		alias := attr(child(e, "alias"), "name")
		id := "obj" + alias
		be := child(e, "backend")
		switch r.Backend {
		case "random":
			path := ""
			if be != nil {
				path = be.Text()
			}
			if path == "" {
				// libvirt's post-parse default.
				path = "/dev/random"
				conf.SetDeviceValue(r, "backend", path)
			}
			if !slices.Contains(rngSources, path) {
				return unsupported("rng source '%s' is not one of %s", path, strings.Join(rngSources, ", "))
			}
			b.object(obj{}.set("qom-type", "rng-random").set("id", id).set("filename", path))
		case "egd":
			src, err := b.chrSourceOf(be, attr(be, "type"), false)
			if err != nil {
				return err
			}
			if err := b.addChardev(src, alias, chardevOpts{spicevmc: "vdagent"}); err != nil {
				return err
			}
			b.object(obj{}.set("qom-type", "rng-egd").set("id", id).set("chardev", "char"+alias))
		case "builtin":
			b.object(obj{}.set("qom-type", "rng-builtin").set("id", id))
		default:
			return unsupportedValue("devices/rng/backend", "model", r.Backend)
		}
		o, err := b.virtioDevice("virtio-rng", r.Model, child(e, "driver"))
		if err != nil {
			return err
		}
		o = o.set("rng", id).set("id", alias)
		if rate := child(e, "rate"); rate != nil {
			bytes, err := strconv.ParseUint(attr(rate, "bytes"), 10, 32)
			if err != nil {
				return unsupportedValue("devices/rng/rate", "bytes", attr(rate, "bytes"))
			}
			period := uint64(0)
			if p := attr(rate, "period"); p != "" {
				if period, err = strconv.ParseUint(p, 10, 32); err != nil {
					return unsupported("invalid RNG rate period value")
				}
			}
			if bytes > 0 {
				if period == 0 {
					period = 1000
				}
				o = o.set("max-bytes", bytes).set("period", period)
			}
		}
		b.device(b.pciProps(o, conf.DeviceAddress(r)))
	}
	return nil
}

// emitPanics writes the ISA pvpanic devices; a hyperv panic device is a
// CPU feature (hv-crash, cpu.go).
func (b *builder) emitPanics() error {
	for _, p := range b.def.Devices.Panics {
		if p.Model == "" {
			p.Model = "isa"
		}
		switch p.Model {
		case "isa":
		case "hyperv":
			continue
		default:
			return unsupported("panic model '%s' is not supported on this architecture", p.Model)
		}
		a := conf.DeviceAddress(p)
		o := obj{}.set("driver", "pvpanic")
		switch a.Type {
		case "":
		case "isa":
			if io := attr(child(conf.DeviceElement(p), "address"), "iobase"); io != "" {
				port, err := strconv.ParseUint(io, 0, 16)
				if err != nil {
					return unsupported("invalid iobase '%s' of the panic device", io)
				}
				o = o.set("ioport", port)
			}
		default:
			return unsupported("panic device cannot have an address of type '%s'", a.Type)
		}
		b.device(o)
	}
	return nil
}
