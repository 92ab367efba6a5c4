package qemu

import (
	"fmt"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virsh domdirtyrate-calc and the dirtyrate group of domstats as libvirt
// 9.0's QEMU driver: QEMU measures (calc-dirty-rate), query-dirty-rate
// reports.

// VIR_DOMAIN_DIRTYRATE_MODE_* flags and the calculation period bounds.
const (
	dirtyRatePageSampling = 0 // the default mode
	dirtyRateBitmap       = 1 << 0
	dirtyRateRing         = 1 << 1

	minDirtyRatePeriod = 1
	maxDirtyRatePeriod = 60

	statsDirtyRate = 1 << 9 // VIR_DOMAIN_STATS_DIRTYRATE
)

// kvmDirtyRing reports <features><kvm><dirty-ring state='on'/>.
func kvmDirtyRing(def *conf.Domain) bool {
	f := def.Tree().Child("features")
	if f == nil {
		return false
	}
	k := f.Child("kvm")
	if k == nil {
		return false
	}
	if s, _ := k.Attr("state"); s == "off" {
		return false
	}
	r := k.Child("dirty-ring")
	if r == nil {
		return false
	}
	s, _ := r.Attr("state")
	return s == "on"
}

func (c *conn) DomainStartDirtyRateCalc(h driver.Domain, seconds int32, flags uint32) error {
	all := uint32(dirtyRatePageSampling | dirtyRateBitmap | dirtyRateRing)
	if flags&^all != 0 {
		return errFlagsFn(flags&^all, "qemuDomainStartDirtyRateCalc")
	}
	if seconds < minDirtyRatePeriod || seconds > maxDirtyRatePeriod {
		return errQEMU(virerr.ErrConfigUnsupported, "seconds=%d is invalid, please choose value within [%d, %d].",
			seconds, minDirtyRatePeriod, maxDirtyRatePeriod)
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	active, caps, live := v.active(), v.caps, v.live
	v.mu.Unlock()
	if !active {
		return errNotRunning()
	}
	if caps == nil || !caps.Has("calc-dirty-rate") {
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "QEMU does not support calculating dirty page rate")
	}
	mode := ""
	switch {
	case flags&dirtyRateBitmap != 0:
		mode = "dirty-bitmap"
	case flags&dirtyRateRing != 0:
		if live == nil || !kvmDirtyRing(live) {
			return errQEMU(virerr.ErrOperationUnsupported, "%s", "dirty-ring calculation mode requires dirty-ring feature enabled.")
		}
		mode = "dirty-ring"
	}
	if mode != "" && !caps.Has("dirtyrate-param.mode") {
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "QEMU does not support dirty page rate calculation mode.")
	}
	return c.withJob(h, "dirty rate calc", func(_ *vm, mon monitor) error {
		args := map[string]any{"calc-time": seconds}
		if mode != "" {
			args["mode"] = mode
		}
		if err := mon.Execute(hotplugCtx(), "calc-dirty-rate", args, nil); err != nil {
			return qmpError(err)
		}
		return nil
	})
}

// dirtyRateInfo is query-dirty-rate's reply.
type dirtyRateInfo struct {
	Status    string `json:"status"`
	DirtyRate *int64 `json:"dirty-rate"`
	StartTime int64  `json:"start-time"`
	CalcTime  int32  `json:"calc-time"`
	Mode      string `json:"mode"`
	VcpuRates []struct {
		ID        int    `json:"id"`
		DirtyRate uint64 `json:"dirty-rate"`
	} `json:"vcpu-dirty-rate"`
}

// dirtyRateStats adds qemuDomainGetStatsDirtyRate's fields for a running
// guest; a QEMU that does not answer leaves them out.
func dirtyRateStats(p *paramList, v *vm) {
	v.mu.Lock()
	mon, active := v.mon, v.active()
	v.mu.Unlock()
	if !active || mon == nil {
		return
	}
	var info dirtyRateInfo
	if err := mon.Execute(hotplugCtx(), "query-dirty-rate", nil, &info); err != nil {
		return
	}
	status := map[string]int32{"unstarted": 0, "measuring": 1, "measured": 2}
	st, ok := status[info.Status]
	if !ok {
		return
	}
	mode := info.Mode
	if mode == "" {
		mode = "page-sampling"
	}
	p.add("dirtyrate.calc_status", st)
	p.add("dirtyrate.calc_start_time", info.StartTime)
	p.add("dirtyrate.calc_period", info.CalcTime)
	p.add("dirtyrate.calc_mode", mode)
	if st == 2 && info.DirtyRate != nil {
		p.add("dirtyrate.megabytes_per_second", *info.DirtyRate)
		if mode == "dirty-ring" {
			for _, r := range info.VcpuRates {
				p.add(fmt.Sprintf("dirtyrate.vcpu.%d.megabytes_per_second", r.ID), r.DirtyRate)
			}
		}
	}
}
