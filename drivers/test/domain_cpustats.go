package test

import (
	"govirt/driver"
	"govirt/virerr"
)

// totalCPUTime is libvirt's TEST_TOTAL_CPUTIME (ns).
const totalCPUTime = 48772617035

// DomainGetCPUStats is testDomainGetCPUStats: fixed numbers, the host's
// "CPUs" being the node file's cores, as libvirt's test driver counts them.
func (in *instance) DomainGetCPUStats(d driver.Domain, nparams uint32, startCPU int32, ncpus uint32, flags uint32) ([]driver.TypedParam, int32, error) {
	if err := checkFlags(flags, typedParamStringOkay, "testDomainGetCPUStats"); err != nil {
		return nil, 0, err
	}
	var out []driver.TypedParam
	var n int32
	err := in.runningDom(d, false, func(*domObj) error {
		if startCPU == -1 {
			if nparams == 0 {
				n = 3
				return nil
			}
			out = append(out, driver.TypedParam{Field: "cpu_time", Value: uint64(totalCPUTime)})
			if nparams > 1 {
				out = append(out, driver.TypedParam{Field: "user_time", Value: uint64(5540000000)})
			}
			if nparams > 2 {
				out = append(out, driver.TypedParam{Field: "system_time", Value: uint64(6460000000)})
			}
			n = int32(len(out))
			return nil
		}
		total := int(in.node.Cores)
		if nparams == 0 && ncpus != 0 {
			n = 2
			return nil
		}
		if ncpus == 0 {
			n = int32(total)
			return nil
		}
		if int(startCPU) >= total {
			return virerr.New(virerr.FromTest, virerr.ErrInvalidArg, "start_cpu %d larger than maximum of %d", startCPU, total-1)
		}
		per := uint64(totalCPUTime / int64(total))
		need := min(total, int(startCPU)+int(ncpus))
		n = 1
		if nparams > 1 {
			n = 2
		}
		for i := int(startCPU); i < need; i++ {
			out = append(out, driver.TypedParam{Field: "cpu_time", Value: per + uint64(i)})
			if nparams > 1 {
				out = append(out, driver.TypedParam{Field: "vcpu_time", Value: per + uint64(i) - 1234567890})
			}
		}
		return nil
	})
	return out, n, err
}
