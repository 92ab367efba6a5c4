package command

import (
	"strconv"
	"strings"

	"govirt/conf"
)

// The cgroup tunables of a definition: <cputune> shares and CFS
// bandwidth, <memtune> limits, <blkiotune> weights and throttles and the
// <resource> partition. Nothing of it is on the command line; the driver
// writes them into the guest's cgroups (internal/cgroup) as libvirt's
// virDomainCgroupSetup* and qemuProcessSetup{Emulator,Vcpus,IOThreads} do.

// MemUnlimited is VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB).
const MemUnlimited = 9007199254740991

// Tunables are the settings of a definition, libvirt's virDomainCputune,
// virDomainMemtune and virDomainBlkiotune; a zero CFS value is unset.
type Tunables struct {
	Shares    uint64
	SharesSet bool

	Period, GlobalPeriod, EmulatorPeriod, IOThreadPeriod uint64
	Quota, GlobalQuota, EmulatorQuota, IOThreadQuota     int64

	// KiB, MemUnlimited when absent.
	HardLimit, SoftLimit, SwapHardLimit uint64

	BlkioWeight  uint32
	BlkioDevices []BlkioDevice

	Partition string // "" when absent: the driver uses /machine
}

// BlkioDevice is one <blkiotune><device>; zero is unset.
type BlkioDevice struct {
	Path                string
	Weight              uint32
	ReadIops, WriteIops uint64
	ReadBps, WriteBps   uint64
}

// Limits of vircgroup.h.
const (
	sharesMin = 2
	sharesMax = 262144
	periodMin = 1000
	periodMax = 1000000
	quotaMin  = 1000
	quotaMax  = 17592186044415
)

// ParseTunables reads and checks the tunables as libvirt's parser and
// virDomainDefCputuneValidate and qemuValidateDomainDef do.
func ParseTunables(def *conf.Domain) (*Tunables, error) {
	t := &Tunables{HardLimit: MemUnlimited, SoftLimit: MemUnlimited, SwapHardLimit: MemUnlimited}
	tree := def.Tree()
	ct := child(tree, "cputune")
	if e := child(ct, "shares"); e != nil {
		v, err := strconv.ParseUint(e.Text(), 10, 64)
		if err != nil {
			return nil, xmlError("can't parse cputune shares value")
		}
		t.Shares, t.SharesSet = v, true
	}
	for _, u := range []struct {
		name, what string
		dst        *uint64
	}{{"period", "period", &t.Period}, {"global_period", "global period", &t.GlobalPeriod},
		{"emulator_period", "emulator period", &t.EmulatorPeriod}, {"iothread_period", "iothread period", &t.IOThreadPeriod}} {
		if e := child(ct, u.name); e != nil {
			v, err := strconv.ParseUint(e.Text(), 10, 64)
			if err != nil {
				return nil, xmlError("can't parse cputune %s value", u.what)
			}
			*u.dst = v
		}
	}
	for _, u := range []struct {
		name, what string
		dst        *int64
	}{{"quota", "quota", &t.Quota}, {"global_quota", "global quota", &t.GlobalQuota},
		{"emulator_quota", "emulator quota", &t.EmulatorQuota}, {"iothread_quota", "iothread quota", &t.IOThreadQuota}} {
		if e := child(ct, u.name); e != nil {
			v, err := strconv.ParseInt(e.Text(), 10, 64)
			if err != nil {
				return nil, xmlError("can't parse cputune %s value", u.what)
			}
			*u.dst = v
		}
	}
	if t.Shares > 0 && (t.Shares < sharesMin || t.Shares > sharesMax) {
		return nil, unsupported("Value of cputune 'shares' must be in range [%d, %d]", sharesMin, sharesMax)
	}
	for _, p := range []struct {
		name string
		v    uint64
	}{{"period", t.Period}, {"global_period", t.GlobalPeriod}, {"emulator_period", t.EmulatorPeriod}, {"iothread_period", t.IOThreadPeriod}} {
		if p.v > 0 && (p.v < periodMin || p.v > periodMax) {
			return nil, unsupported("Value of cputune '%s' must be in range [%d, %d]", p.name, periodMin, periodMax)
		}
	}
	for _, q := range []struct {
		name string
		v    int64
	}{{"quota", t.Quota}, {"global_quota", t.GlobalQuota}, {"emulator_quota", t.EmulatorQuota}, {"iothread_quota", t.IOThreadQuota}} {
		if q.v > 0 && (q.v < quotaMin || q.v > quotaMax) {
			return nil, unsupported("Value of cputune '%s' must be in range [%d, %d]", q.name, quotaMin, quotaMax)
		}
	}
	mt := child(tree, "memtune")
	for _, m := range []struct {
		name string
		dst  *uint64
	}{{"hard_limit", &t.HardLimit}, {"soft_limit", &t.SoftLimit}, {"swap_hard_limit", &t.SwapHardLimit}} {
		e := child(mt, m.name)
		if e == nil {
			continue
		}
		b, err := conf.ScaledBytes(e.Text(), attr(e, "unit"), "KiB")
		if err != nil {
			return nil, err
		}
		kib := b/1024 + min(b%1024, 1)
		if kib >= MemUnlimited {
			kib = MemUnlimited
		}
		*m.dst = kib
	}
	if e := child(mt, "min_guarantee"); e != nil {
		if b, _ := conf.ScaledBytes(e.Text(), attr(e, "unit"), "KiB"); b > 0 {
			return nil, unsupported("Parameter 'min_guarantee' not supported by QEMU.")
		}
	}
	bt := child(tree, "blkiotune")
	if e := child(bt, "weight"); e != nil {
		v, err := strconv.ParseUint(e.Text(), 10, 32)
		if err != nil {
			return nil, xmlError("can't parse blkiotune weight value")
		}
		t.BlkioWeight = uint32(v)
	}
	for _, e := range children(bt, "device") {
		dev := BlkioDevice{Path: strings.TrimSpace(textOf(child(e, "path")))}
		if dev.Path == "" {
			return nil, unsupported("missing per-device path")
		}
		for _, f := range []struct {
			name string
			bits int
			dst  func(uint64)
		}{{"weight", 32, func(v uint64) { dev.Weight = uint32(v) }},
			{"read_iops_sec", 32, func(v uint64) { dev.ReadIops = v }},
			{"write_iops_sec", 32, func(v uint64) { dev.WriteIops = v }},
			{"read_bytes_sec", 64, func(v uint64) { dev.ReadBps = v }},
			{"write_bytes_sec", 64, func(v uint64) { dev.WriteBps = v }}} {
			c := child(e, f.name)
			if c == nil {
				continue
			}
			v, err := strconv.ParseUint(c.Text(), 10, f.bits)
			if err != nil {
				return nil, unsupported("could not parse %s %s", strings.ReplaceAll(f.name, "_", " "), c.Text())
			}
			f.dst(v)
		}
		for _, d := range t.BlkioDevices {
			if d.Path == dev.Path {
				return nil, unsupported("duplicate blkio device path '%s'", dev.Path)
			}
		}
		t.BlkioDevices = append(t.BlkioDevices, dev)
	}
	t.Partition = textOf(child(tree, "resource", "partition"))
	return t, nil
}

func textOf(e *conf.Element) string {
	if e == nil {
		return ""
	}
	return e.Text()
}
