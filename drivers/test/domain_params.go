package test

import (
	"govirt/driver"
	"govirt/virerr"
)

func (in *instance) DomainGetSchedulerType(d driver.Domain) (string, int32, error) {
	return "fair", 1, nil
}

// The test driver answers a constant weight and ignores what is set.
func (in *instance) DomainGetSchedulerParameters(d driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, 0, "testDomainGetSchedulerParametersFlags"); err != nil {
		return nil, err
	}
	err := in.withDom(d, func(*domObj) error { return nil })
	return []driver.TypedParam{{Field: "weight", Value: uint32(50)}}, err
}

func (in *instance) DomainSetSchedulerParameters(d driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainSetSchedulerParametersFlags"); err != nil {
		return err
	}
	if err := driver.ValidateParams(params, map[string]string{"weight": "uint"}); err != nil {
		return err
	}
	return in.withDom(d, func(*domObj) error { return nil })
}

func (in *instance) DomainGetMemoryParameters(d driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, affectLive|affectConfig|typedParamStringOkay, "testDomainGetMemoryParameters"); err != nil {
		return nil, err
	}
	var out []driver.TypedParam
	err := in.withDom(d, func(o *domObj) error {
		if _, _, err := o.oneDef(flags &^ typedParamStringOkay); err != nil {
			return err
		}
		out = []driver.TypedParam{
			{Field: "hard_limit", Value: o.hardLimit},
			{Field: "soft_limit", Value: o.softLimit},
			{Field: "swap_hard_limit", Value: o.swapHardLimit},
		}
		return nil
	})
	return out, err
}

func (in *instance) DomainSetMemoryParameters(d driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetMemoryParameters"); err != nil {
		return err
	}
	if err := driver.ValidateParams(params, map[string]string{"hard_limit": "ullong", "soft_limit": "ullong", "swap_hard_limit": "ullong"}); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if _, _, err := o.oneDef(flags); err != nil {
			return err
		}
		hard, soft, swap := o.hardLimit, o.softLimit, o.swapHardLimit
		for _, p := range params {
			v := p.Value.(uint64)
			switch p.Field {
			case "hard_limit":
				hard = v
			case "soft_limit":
				soft = v
			case "swap_hard_limit":
				swap = v
			}
		}
		if hard > swap {
			return errTest(virerr.ErrInvalidArg, "memory hard_limit tunable value must be lower than or equal to swap_hard_limit")
		}
		o.hardLimit, o.softLimit, o.swapHardLimit = hard, soft, swap
		return nil
	})
}

var blkioDeviceFields = []string{"device_weight", "device_read_iops_sec", "device_write_iops_sec", "device_read_bytes_sec", "device_write_bytes_sec"}

func (in *instance) DomainGetBlkioParameters(d driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, affectLive|affectConfig|typedParamStringOkay, "testDomainGetBlkioParameters"); err != nil {
		return nil, err
	}
	var out []driver.TypedParam
	err := in.withDom(d, func(o *domObj) error {
		if _, _, err := o.oneDef(flags &^ typedParamStringOkay); err != nil {
			return err
		}
		out = append(out, driver.TypedParam{Field: "weight", Value: o.blkioWeight})
		for _, f := range blkioDeviceFields {
			out = append(out, driver.TypedParam{Field: f, Value: ""})
		}
		return nil
	})
	return out, err
}

func (in *instance) DomainSetBlkioParameters(d driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetBlkioParameters"); err != nil {
		return err
	}
	want := map[string]string{"weight": "uint"}
	for _, f := range blkioDeviceFields {
		want[f] = "string"
	}
	if err := driver.ValidateParams(params, want); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if _, _, err := o.oneDef(flags); err != nil {
			return err
		}
		for _, p := range params {
			if p.Field == "weight" {
				o.blkioWeight = p.Value.(uint32)
			}
		}
		return nil
	})
}
