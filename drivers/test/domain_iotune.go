package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virsh blkdeviotune as libvirt's test driver: the disk's <iotune> in
// the one definition the flags name, with the test driver's own checks
// (no groups shared between disks, no QEMU limits).

// testIOTuneMax is TEST_BLOCK_IOTUNE_MAX.
const testIOTuneMax = 1000000000000000

// testDiskByName is virDomainDiskByName: by target, else by source path.
func testDiskByName(def *conf.Domain, name string) *conf.Disk {
	for _, d := range def.Devices.Disks {
		if d.TargetDev == name {
			return d
		}
	}
	for _, d := range def.Devices.Disks {
		if d.Source.Path != "" && d.Source.Path == name {
			return d
		}
	}
	return nil
}

func (in *instance) DomainSetBlockIOTune(d driver.Domain, disk string, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetBlockIoTune"); err != nil {
		return err
	}
	want := map[string]string{"group_name": "string"}
	for _, f := range append(append([]string{}, conf.IOTuneLimits...), conf.IOTuneLengths...) {
		want[f] = "ullong"
	}
	if err := driver.ValidateParams(params, want); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		dk := testDiskByName(def, disk)
		if dk == nil {
			return errTest(virerr.ErrInvalidArg, "missing persistent configuration for disk '%s'", disk)
		}
		t := dk.IOTune()
		for _, p := range params {
			if s, ok := p.Value.(string); ok {
				t.Group = s
				continue
			}
			v := p.Value.(uint64)
			if v > testIOTuneMax {
				return errTest(virerr.ErrArgumentUnsupported, "block I/O throttle limit value must be no more than %d", uint64(testIOTuneMax))
			}
			t.Vals[p.Field] = v
		}
		for _, kind := range []string{"bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"} {
			if t.Vals["total_"+kind] != 0 && (t.Vals["read_"+kind] != 0 || t.Vals["write_"+kind] != 0) {
				return errTest(virerr.ErrInvalidArg, "total and read/write of %s cannot be set at the same time", kind)
			}
		}
		for _, f := range []string{"total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec"} {
			if t.Vals[f] > t.Vals[f+"_max"] {
				return errTest(virerr.ErrInvalidArg, "%s cannot be set higher than %s ", f, f+"_max")
			}
		}
		dk.SetIOTune(t)
		return nil
	})
}

func (in *instance) DomainGetBlockIOTune(d driver.Domain, disk string, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, affectLive|affectConfig|typedParamStringOkay, "testDomainGetBlockIoTune"); err != nil {
		return nil, err
	}
	if disk == "" {
		// nparams 0: the count, before the domain is looked at.
		return nil, nil
	}
	var out []driver.TypedParam
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags &^ typedParamStringOkay)
		if err != nil {
			return err
		}
		dk := testDiskByName(def, disk)
		if dk == nil {
			return errTest(virerr.ErrInvalidArg, "disk '%s' was not found in the domain config", disk)
		}
		t := dk.IOTune()
		for _, f := range conf.IOTuneLimits {
			out = append(out, driver.TypedParam{Field: f, Value: t.Vals[f]})
		}
		out = append(out, driver.TypedParam{Field: "group_name", Value: t.Group})
		for _, f := range conf.IOTuneLengths {
			out = append(out, driver.TypedParam{Field: f, Value: t.Vals[f]})
		}
		return nil
	})
	return out, err
}
