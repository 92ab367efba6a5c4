package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Limits of libvirt's vircgroup.h.
const (
	SharesMin = 2
	SharesMax = 262144
	PeriodMin = 1000
	PeriodMax = 1000000
	QuotaMin  = 1000
	QuotaMax  = 17592186044415
	// Unlimited is VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, in KiB.
	Unlimited = 9007199254740991
)

func (g *Group) file(c, name string) (string, error) {
	d := g.Dir(c)
	if d == "" {
		return "", &Error{Msg: fmt.Sprintf("v1 controller '%s' is not mounted", c)}
	}
	return filepath.Join(d, name), nil
}

func (g *Group) get(c, name string) (string, error) {
	p, err := g.file(c, name)
	if err != nil {
		return "", err
	}
	return readTrim(p)
}

func (g *Group) set(c, name, v string) error {
	p, err := g.file(c, name)
	if err != nil {
		return err
	}
	return writeValue(p, v)
}

func (g *Group) getU64(c, name string) (uint64, error) {
	s, err := g.get(c, name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &Error{Msg: fmt.Sprintf("Unable to parse '%s' as an integer", s)}
	}
	return v, nil
}

func (g *Group) getI64(c, name string) (int64, error) {
	s, err := g.get(c, name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &Error{Msg: fmt.Sprintf("Unable to parse '%s' as an integer", s)}
	}
	return v, nil
}

// SetCPUShares writes cpu.shares (v1) or cpu.weight (v2, the value as
// is, as libvirt 9.0 does).
func (g *Group) SetCPUShares(v uint64) error {
	if g.h.isV2(CPU) {
		return g.set(CPU, "cpu.weight", strconv.FormatUint(v, 10))
	}
	return g.set(CPU, "cpu.shares", strconv.FormatUint(v, 10))
}

// CPUShares reads what SetCPUShares writes.
func (g *Group) CPUShares() (uint64, error) {
	if g.h.isV2(CPU) {
		return g.getU64(CPU, "cpu.weight")
	}
	return g.getU64(CPU, "cpu.shares")
}

// SupportsCPUBW says whether the group can take a period and quota.
func (g *Group) SupportsCPUBW() bool {
	if !g.Has(CPU) {
		return false
	}
	name := "cpu.cfs_period_us"
	if g.h.isV2(CPU) {
		name = "cpu.max"
	}
	_, err := os.Stat(filepath.Join(g.Dir(CPU), name))
	return err == nil
}

// cpuMax reads v2's cpu.max: "QUOTA|max PERIOD".
func (g *Group) cpuMax() (int64, uint64, error) {
	s, err := g.get(CPU, "cpu.max")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, &Error{Msg: fmt.Sprintf("Invalid 'cpu.max' data '%s'", s)}
	}
	period, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, 0, &Error{Msg: fmt.Sprintf("Failed to parse value '%s' from cpu.max.", f[1])}
	}
	quota := int64(-1)
	if f[0] != "max" {
		if quota, err = strconv.ParseInt(f[0], 10, 64); err != nil {
			return 0, 0, &Error{Msg: fmt.Sprintf("Failed to parse value '%s' from cpu.max.", f[0])}
		}
	}
	return quota, period, nil
}

// SetCPUPeriod writes the CFS period in microseconds.
func (g *Group) SetCPUPeriod(period uint64) error {
	if period < PeriodMin || period > PeriodMax {
		return &Error{Msg: fmt.Sprintf("cfs_period '%d' must be in range (%d, %d)", period, PeriodMin, PeriodMax)}
	}
	if g.h.isV2(CPU) {
		quota, _, err := g.cpuMax()
		if err != nil {
			return err
		}
		q := "max"
		if quota >= 0 {
			q = strconv.FormatInt(quota, 10)
		}
		return g.set(CPU, "cpu.max", fmt.Sprintf("%s %d", q, period))
	}
	return g.set(CPU, "cpu.cfs_period_us", strconv.FormatUint(period, 10))
}

// SetCPUQuota writes the CFS quota in microseconds; any negative value
// means no limit.
func (g *Group) SetCPUQuota(quota int64) error {
	if quota >= 0 && (quota < QuotaMin || quota > QuotaMax) {
		return &Error{Msg: fmt.Sprintf("cfs_quota '%d' must be in range (%d, %d)", quota, QuotaMin, QuotaMax)}
	}
	if g.h.isV2(CPU) {
		if quota < 0 {
			return g.set(CPU, "cpu.max", "max")
		}
		return g.set(CPU, "cpu.max", strconv.FormatInt(quota, 10))
	}
	return g.set(CPU, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
}

// CPUPeriodQuota reads the CFS period and quota (-1: no limit).
func (g *Group) CPUPeriodQuota() (uint64, int64, error) {
	if g.h.isV2(CPU) {
		q, p, err := g.cpuMax()
		return p, q, err
	}
	p, err := g.getU64(CPU, "cpu.cfs_period_us")
	if err != nil {
		return 0, 0, err
	}
	q, err := g.getI64(CPU, "cpu.cfs_quota_us")
	return p, q, err
}

// SetupCPUPeriodQuota is virCgroupSetupCpuPeriodQuota: zero leaves a
// value alone; a quota that fails puts the old period back.
func (g *Group) SetupCPUPeriodQuota(period uint64, quota int64) error {
	if period == 0 && quota == 0 {
		return nil
	}
	var old uint64
	if period != 0 {
		var err error
		if old, _, err = g.CPUPeriodQuota(); err != nil {
			return err
		}
		if err := g.SetCPUPeriod(period); err != nil {
			return err
		}
	}
	if quota != 0 {
		if err := g.SetCPUQuota(quota); err != nil {
			if period != 0 {
				_ = g.SetCPUPeriod(old)
			}
			return err
		}
	}
	return nil
}

// memFile names the memory limit files: hard, soft, swap.
func (g *Group) memFile(which string) string {
	v2 := g.h.isV2(Memory)
	switch which {
	case "hard":
		if v2 {
			return "memory.max"
		}
		return "memory.limit_in_bytes"
	case "soft":
		if v2 {
			return "memory.high"
		}
		return "memory.soft_limit_in_bytes"
	}
	if v2 {
		return "memory.swap.max"
	}
	return "memory.memsw.limit_in_bytes"
}

// SetMemoryLimit writes a limit in KiB (Unlimited lifts it); which is
// "hard", "soft" or "swap".
func (g *Group) SetMemoryLimit(which string, kib uint64) error {
	if kib > Unlimited {
		return &Error{Msg: fmt.Sprintf("Memory '%d' must be less than '%d'", kib, uint64(Unlimited)+1)}
	}
	v := strconv.FormatUint(kib<<10, 10)
	if kib == Unlimited {
		v = "-1"
		if g.h.isV2(Memory) {
			v = "max"
		}
	}
	return g.set(Memory, g.memFile(which), v)
}

// MemoryLimit reads a limit in KiB; no limit reads as Unlimited. A
// missing swap file (no swap accounting) is reported as os.ErrNotExist.
func (g *Group) MemoryLimit(which string) (uint64, error) {
	p, err := g.file(Memory, g.memFile(which))
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(p); err != nil {
		return 0, err
	}
	s, err := readTrim(p)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return Unlimited, nil
	}
	b, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &Error{Msg: fmt.Sprintf("Unable to parse '%s' as an integer", s)}
	}
	// v1 reports "no limit" as the page counter's maximum.
	if kib := b >> 10; kib < Unlimited && b < 1<<62 {
		return kib, nil
	}
	return Unlimited, nil
}

// blkioWeightFile finds the weight file the I/O scheduler offers.
func (g *Group) blkioWeightFile(device bool) (string, string, error) {
	d := g.Dir(Blkio)
	if d == "" {
		return "", "", &Error{Msg: "blkio cgroup isn't mounted"}
	}
	var names []string
	format := "%d"
	switch {
	case g.h.isV2(Blkio) && device:
		names = []string{"io.weight"}
	case g.h.isV2(Blkio):
		names = []string{"io.bfq.weight", "io.weight"}
	case device:
		names = []string{"blkio.weight_device", "blkio.bfq.weight_device"}
	default:
		names = []string{"blkio.bfq.weight", "blkio.weight"}
	}
	for _, n := range names {
		p := filepath.Join(d, n)
		if _, err := os.Stat(p); err == nil {
			if n == "io.weight" && !device {
				format = "default %d"
			}
			return p, format, nil
		}
	}
	if device {
		if g.h.isV2(Blkio) {
			return "", "", invalid("blkio device weight is valid only for cfq scheduler")
		}
		return "", "", invalid("blkio device weight is valid only for bfq or cfq scheduler")
	}
	return "", "", invalid("blkio weight is valid only for bfq or cfq scheduler")
}

// SetBlkioWeight writes the group's I/O weight.
func (g *Group) SetBlkioWeight(w uint32) error {
	p, format, err := g.blkioWeightFile(false)
	if err != nil {
		return err
	}
	return writeValue(p, fmt.Sprintf(format, w))
}

// BlkioWeight reads the group's I/O weight.
func (g *Group) BlkioWeight() (uint32, error) {
	p, _, err := g.blkioWeightFile(false)
	if err != nil {
		return 0, err
	}
	s, err := readTrim(p)
	if err != nil {
		return 0, err
	}
	s = strings.TrimPrefix(s, "default ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, &Error{Msg: fmt.Sprintf("Unable to parse '%s' as an integer", s)}
	}
	return uint32(v), nil
}

// DevNumber is virCgroupGetBlockDevString without its trailing space.
func DevNumber(path string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "", sysErr(err, "Path '%s' is not accessible", path)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFBLK {
		return "", sysErr(syscall.EINVAL, "Path '%s' must be a block device", path)
	}
	maj := (st.Rdev >> 8) & 0xfff
	maj |= (st.Rdev >> 32) &^ 0xfff
	min := st.Rdev & 0xff
	min |= (st.Rdev >> 12) &^ 0xff
	return fmt.Sprintf("%d:%d", maj, min), nil
}

// Device limit kinds.
const (
	DevWeight    = "weight"
	DevReadIops  = "riops"
	DevWriteIops = "wiops"
	DevReadBps   = "rbps"
	DevWriteBps  = "wbps"
)

var v1DevFiles = map[string]string{
	DevReadIops:  "blkio.throttle.read_iops_device",
	DevWriteIops: "blkio.throttle.write_iops_device",
	DevReadBps:   "blkio.throttle.read_bps_device",
	DevWriteBps:  "blkio.throttle.write_bps_device",
}

// SetBlkioDevice sets one per-device limit of kind (Dev*) for the block
// device at path; 0 removes a throttle (and, on v1, a weight).
func (g *Group) SetBlkioDevice(kind, path string, v uint64) error {
	if g.Dir(Blkio) == "" {
		return &Error{Msg: "blkio cgroup isn't mounted"}
	}
	dev, err := DevNumber(path)
	if err != nil {
		return err
	}
	if kind == DevWeight {
		p, _, err := g.blkioWeightFile(true)
		if err != nil {
			return err
		}
		return writeValue(p, fmt.Sprintf("%s %d", dev, v))
	}
	if g.h.isV2(Blkio) {
		val := "max"
		if v > 0 {
			val = strconv.FormatUint(v, 10)
		}
		return g.set(Blkio, "io.max", fmt.Sprintf("%s %s=%s", dev, kind, val))
	}
	return g.set(Blkio, v1DevFiles[kind], fmt.Sprintf("%s %d", dev, v))
}

// CPUAcctUsage is the group's CPU time in nanoseconds.
func (g *Group) CPUAcctUsage() (uint64, error) {
	if g.h.isV2(CPUAcct) {
		st, err := g.cpuStat()
		return st["usage_usec"] * 1000, err
	}
	return g.getU64(CPUAcct, "cpuacct.usage")
}

// CPUAcctStat is the group's user and system time in nanoseconds.
func (g *Group) CPUAcctStat() (user, sys uint64, err error) {
	if g.h.isV2(CPUAcct) {
		st, err := g.cpuStat()
		return st["user_usec"] * 1000, st["system_usec"] * 1000, err
	}
	s, err := g.get(CPUAcct, "cpuacct.stat")
	if err != nil {
		return 0, 0, err
	}
	// USER_HZ ticks (100 on Linux) to nanoseconds.
	const scale = 1000000000 / 100
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "user":
			user = n * scale
		case "system":
			sys = n * scale
		}
	}
	return user, sys, nil
}

func (g *Group) cpuStat() (map[string]uint64, error) {
	s, err := g.get(CPU, "cpu.stat")
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			out[f[0]], _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	return out, nil
}

// CPUAcctPercpu is cpuacct.usage_percpu: nanoseconds per present host
// CPU. v2 has no per-CPU accounting.
func (g *Group) CPUAcctPercpu() ([]uint64, error) {
	if g.h.isV2(CPUAcct) {
		return nil, &Error{Unsupported: true, Msg: "operation 'getCpuacctPercpuUsage' not supported for backend 'cgroup V2'"}
	}
	s, err := g.get(CPUAcct, "cpuacct.usage_percpu")
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, f := range strings.Fields(s) {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, &Error{Msg: "cpuacct parse error"}
		}
		out = append(out, n)
	}
	return out, nil
}

// SetCpusetCpus and SetCpusetMems write cpuset.cpus and cpuset.mems.
func (g *Group) SetCpusetCpus(list string) error { return g.set(CPUSet, "cpuset.cpus", list) }
func (g *Group) SetCpusetMems(list string) error { return g.set(CPUSet, "cpuset.mems", list) }

// SetCpusetMemoryMigrate turns cpuset.memory_migrate on (v1 only; v2
// always migrates).
func (g *Group) SetCpusetMemoryMigrate() error {
	if !g.Has(CPUSet) || g.h.isV2(CPUSet) {
		return nil
	}
	return g.set(CPUSet, "cpuset.memory_migrate", "1")
}

// IsNotExist says whether err is a missing file.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
