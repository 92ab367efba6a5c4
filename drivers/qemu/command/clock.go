package command

import (
	"strconv"
	"time"
)

// -rtc and the timer -globals (qemuBuildClockCommandLine), with the
// checks of qemuValidateDomainDefClockTimers.

func (b *builder) emitClock() error {
	ce := child(b.tree(), "clock")
	offset := attr(ce, "offset")
	var rtc string
	switch offset {
	case "", "utc":
		rtc = "base=utc"
	case "localtime", "timezone":
		rtc = "base=localtime"
		if tz := attr(ce, "timezone"); offset == "timezone" && tz != "" {
			b.extraEnv = append(b.extraEnv, "TZ="+tz)
		}
	case "variable":
		adj, err := strconv.ParseInt(attr(ce, "adjustment"), 10, 64)
		if attr(ce, "adjustment") == "" {
			adj, err = 0, nil
		}
		if err != nil {
			return xmlError("invalid clock adjustment")
		}
		if attr(ce, "basis") == "localtime" {
			_, off := time.Now().Zone()
			adj += int64(off)
			// libvirt turns the basis into UTC for the run, the
			// adjustment now counting from UTC (so RTC_CHANGE and a
			// migration need not know the host's zone).
			b.def.SetValue("clock/@adjustment", strconv.FormatInt(adj, 10))
			b.def.SetValue("clock/@basis", "utc")
		}
		rtc = "base=" + b.host().Now().UTC().Add(time.Duration(adj)*time.Second).Format("2006-01-02T15:04:05")
	case "absolute":
		start, err := strconv.ParseInt(attr(ce, "start"), 10, 64)
		if err != nil {
			return xmlError("missing or invalid 'start' attribute of <clock offset='absolute'>")
		}
		rtc = "base=" + time.Unix(start, 0).UTC().Format("2006-01-02T15:04:05")
	default:
		return unsupportedValue("clock", "offset", offset)
	}
	// What follows -rtc, in the order of the timers.
	var after []string
	for _, tm := range timers(b.tree()) {
		name, tick, present := attr(tm, "name"), attr(tm, "tickpolicy"), attr(tm, "present")
		switch present {
		case "", "yes", "no":
		default:
			return unsupportedValue("clock/timer", "present", present)
		}
		switch name {
		case "platform":
			return unsupported("unsupported timer type (name) 'platform'")
		case "rtc":
			switch tr := attr(tm, "track"); tr {
			case "":
			case "guest":
				rtc += ",clock=vm"
			case "wall":
				rtc += ",clock=host"
			case "realtime":
				rtc += ",clock=rt"
			case "boot":
				return unsupported("unsupported rtc timer track 'boot'")
			default:
				return unsupportedValue("clock/timer", "track", tr)
			}
			switch tick {
			case "catchup":
				rtc += ",driftfix=slew"
			case "", "delay":
			case "merge", "discard":
				return unsupported("unsupported rtc timer tickpolicy '%s'", tick)
			default:
				return unsupportedValue("clock/timer", "tickpolicy", tick)
			}
		case "pit":
			switch tick {
			case "", "delay", "discard":
				if tick == "" {
					tick = "delay"
				}
				if b.caps.Has("kvm-pit-lost-tick-policy") {
					after = append(after, "-global", "kvm-pit.lost_tick_policy="+tick)
				}
			case "catchup":
				if !b.caps.Has("kvm-pit-lost-tick-policy") {
					return unsupported("unsupported pit tickpolicy 'catchup'")
				}
			case "merge":
				return unsupported("unsupported pit tickpolicy 'merge'")
			default:
				return unsupportedValue("clock/timer", "tickpolicy", tick)
			}
		case "hpet":
			// -machine hpet= where QEMU has it (emitMachine), else
			// the old option, only to turn it off
			// (qemuBuildClockCommandLine).
			if b.caps.Has("no-hpet") && !b.caps.Has("machine-hpet") && present == "no" {
				after = append(after, "-no-hpet")
			}
		case "tsc", "kvmclock", "hypervclock":
			// -cpu flags.
		case "armvtimer":
			return unsupported("Configuring the 'armvtimer' timer is not supported for virtType=%s arch=x86_64 machine=%s guests", b.def.Type, b.machine)
		default:
			return unsupportedValue("clock/timer", "name", name)
		}
	}
	b.add("-rtc", rtc)
	b.add(after...)
	return nil
}
