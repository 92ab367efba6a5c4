package qemu

import (
	"os"
	"strconv"
	"strings"

	"govirt/driver"
	"govirt/internal/cgroup"
	"govirt/virerr"
)

// DomainGetCPUStats is qemuDomainGetCPUStats over the guest's cpuacct
// group (virsh cpu-stats): totals with startCPU -1, else per host CPU
// the guest's CPU time and the part its vCPU threads used.
func (c *conn) DomainGetCPUStats(h driver.Domain, nparams uint32, startCPU int32, ncpus uint32, flags uint32) ([]driver.TypedParam, int32, error) {
	if err := checkFlagsFn(flags, typedParamStringOkay, "qemuDomainGetCPUStats"); err != nil {
		return nil, 0, err
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, 0, err
	}
	v.mu.Lock()
	active, live := v.active(), v.live
	v.mu.Unlock()
	if !active {
		return nil, 0, errNotRunning()
	}
	g, err := cgroupFor(v, cgroup.CPUAcct, "cgroup CPUACCT controller is not mounted")
	if err != nil {
		return nil, 0, err
	}
	if startCPU == -1 {
		if nparams == 0 {
			return nil, 3, nil
		}
		total, err := g.CPUAcctUsage()
		if err != nil {
			return nil, 0, errQEMU(virerr.ErrSystemError, "unable to get cpu account: %v", err)
		}
		out := []driver.TypedParam{{Field: "cpu_time", Value: total}}
		if nparams > 1 {
			user, sys, err := g.CPUAcctStat()
			if err != nil {
				return nil, 0, errQEMU(virerr.ErrSystemError, "unable to get cpu account: %v", err)
			}
			out = append(out, driver.TypedParam{Field: "user_time", Value: user})
			if nparams > 2 {
				out = append(out, driver.TypedParam{Field: "system_time", Value: sys})
			}
		}
		return out, int32(len(out)), nil
	}
	// Per CPU: cpu_time, and vcpu_time (QEMU's vCPU threads have groups).
	if nparams == 0 && ncpus != 0 {
		return nil, 2, nil
	}
	present, err := presentCPUs()
	if err != nil {
		return nil, 0, errQEMU(virerr.ErrSystemError, "%v", err)
	}
	total := len(present)
	if ncpus == 0 {
		return nil, int32(total), nil
	}
	if int(startCPU) >= total {
		return nil, 0, errQEMU(virerr.ErrInvalidArg, "start_cpu %d larger than maximum of %d", startCPU, total-1)
	}
	usage, err := g.CPUAcctPercpu()
	if err != nil {
		return nil, 0, cgErr(err)
	}
	need := min(total, int(startCPU)+int(ncpus))
	// cpuacct lists present CPUs only; absent ones count zero.
	perCPU := func(vals []uint64) []uint64 {
		out := make([]uint64, need)
		k := 0
		for i := 0; i < need; i++ {
			if present[i] && k < len(vals) {
				out[i] = vals[k]
				k++
			}
		}
		return out
	}
	cpuTime := perCPU(usage)
	var vcpuTime []uint64
	if nparams > 1 {
		vcpuTime = make([]uint64, need)
		n := 0
		if live != nil {
			n = int(live.CurrentVCPUs)
		}
		for i := 0; i < n; i++ {
			sub, err := g.Thread(cgroup.ThreadVCPU, i, false)
			if err != nil {
				return nil, 0, cgErr(err)
			}
			vals, err := sub.CPUAcctPercpu()
			if err != nil {
				return nil, 0, cgErr(err)
			}
			for j, x := range perCPU(vals) {
				vcpuTime[j] += x
			}
		}
	}
	var out []driver.TypedParam
	per := int32(1)
	if vcpuTime != nil {
		per = 2
	}
	for i := int(startCPU); i < need; i++ {
		out = append(out, driver.TypedParam{Field: "cpu_time", Value: cpuTime[i]})
		if vcpuTime != nil {
			out = append(out, driver.TypedParam{Field: "vcpu_time", Value: vcpuTime[i]})
		}
	}
	return out, per, nil
}

// presentCPUs is virHostCPUGetPresentBitmap: index i says whether host
// CPU i is present; the length is the highest present CPU plus one.
func presentCPUs() ([]bool, error) {
	data, err := os.ReadFile("/sys/devices/system/cpu/present")
	if err != nil {
		return nil, err
	}
	var out []bool
	for _, part := range strings.Split(strings.TrimSpace(string(data)), ",") {
		lo, hi, found := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if found {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		for len(out) <= b {
			out = append(out, false)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}
