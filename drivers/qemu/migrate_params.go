package qemu

import (
	"math"

	"govirt/driver"
	"govirt/virerr"
)

// virsh migrate-getmaxdowntime, migrate-setmaxdowntime, migrate-getspeed,
// migrate-setspeed and migrate-compcache as libvirt 9.0's QEMU driver:
// the values live in QEMU's migration parameters (query-migrate-parameters,
// migrate-set-parameters), except the precopy speed, which libvirt keeps
// itself (migMaxBandwidth) and hands to QEMU when a migration starts.

// migBandwidthMax is QEMU_DOMAIN_MIG_BANDWIDTH_MAX on 64-bit hosts: the
// most MiB/s QEMU's byte counter holds.
const migBandwidthMax = math.MaxInt64 / (1024 * 1024)

// migrateMaxSpeedPostcopy is VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY.
const migrateMaxSpeedPostcopy = 1

// migParams is the part of query-migrate-parameters libvirt reads here;
// nil members are parameters this QEMU does not report.
type migParams struct {
	DowntimeLimit        *uint64 `json:"downtime-limit"`
	XBZRLECacheSize      *uint64 `json:"xbzrle-cache-size"`
	MaxBandwidth         *uint64 `json:"max-bandwidth"`
	MaxPostcopyBandwidth *uint64 `json:"max-postcopy-bandwidth"`
}

func fetchMigParams(mon monitor) (migParams, error) {
	var p migParams
	if err := mon.Execute(hotplugCtx(), "query-migrate-parameters", nil, &p); err != nil {
		return p, qmpError(err)
	}
	return p, nil
}

func setMigParam(mon monitor, name string, val uint64) error {
	if err := mon.Execute(hotplugCtx(), "migrate-set-parameters", map[string]any{name: val}, nil); err != nil {
		return qmpError(err)
	}
	return nil
}

// haveXBZRLE is qemuMigrationCapsGet(vm, QEMU_MIGRATION_CAP_XBZRLE).
func haveXBZRLE(mon monitor) (bool, error) {
	var caps []struct {
		Capability string `json:"capability"`
	}
	if err := mon.Execute(hotplugCtx(), "query-migrate-capabilities", nil, &caps); err != nil {
		return false, qmpError(err)
	}
	for _, c := range caps {
		if c.Capability == "xbzrle" {
			return true, nil
		}
	}
	return false, nil
}

func errNoCompression() error {
	return errQEMU(virerr.ErrOperationUnsupported, "%s", "Compressed migration is not supported by QEMU binary")
}

func checkNoFlags(flags uint32, fn string) error {
	if flags != 0 {
		return errFlagsFn(flags, fn)
	}
	return nil
}

func (c *conn) DomainMigrateGetMaxDowntime(h driver.Domain, flags uint32) (uint64, error) {
	if err := checkNoFlags(flags, "qemuDomainMigrateGetMaxDowntime"); err != nil {
		return 0, err
	}
	var out uint64
	err := c.withJob(h, "migration query", func(_ *vm, mon monitor) error {
		p, err := fetchMigParams(mon)
		if err != nil {
			return err
		}
		if p.DowntimeLimit == nil {
			return errQEMU(virerr.ErrOperationInvalid, "%s", "Querying migration downtime is not supported by QEMU binary")
		}
		out = *p.DowntimeLimit
		return nil
	})
	return out, err
}

func (c *conn) DomainMigrateSetMaxDowntime(h driver.Domain, downtime uint64, flags uint32) error {
	if err := checkNoFlags(flags, "qemuDomainMigrateSetMaxDowntime"); err != nil {
		return err
	}
	return c.withJob(h, "migration parameters", func(_ *vm, mon monitor) error {
		return setMigParam(mon, "downtime-limit", downtime)
	})
}

func (c *conn) DomainMigrateGetCompressionCache(h driver.Domain, flags uint32) (uint64, error) {
	if err := checkNoFlags(flags, "qemuDomainMigrateGetCompressionCache"); err != nil {
		return 0, err
	}
	var out uint64
	err := c.withJob(h, "migration query", func(_ *vm, mon monitor) error {
		if ok, err := haveXBZRLE(mon); err != nil || !ok {
			if err == nil {
				err = errNoCompression()
			}
			return err
		}
		p, err := fetchMigParams(mon)
		if err != nil {
			return err
		}
		if p.XBZRLECacheSize != nil {
			out = *p.XBZRLECacheSize
		}
		return nil
	})
	return out, err
}

func (c *conn) DomainMigrateSetCompressionCache(h driver.Domain, size uint64, flags uint32) error {
	if err := checkNoFlags(flags, "qemuDomainMigrateSetCompressionCache"); err != nil {
		return err
	}
	return c.withJob(h, "migration parameters", func(_ *vm, mon monitor) error {
		if ok, err := haveXBZRLE(mon); err != nil || !ok {
			if err == nil {
				err = errNoCompression()
			}
			return err
		}
		return setMigParam(mon, "xbzrle-cache-size", size)
	})
}

// DomainMigrateGetMaxSpeed answers the precopy speed from the driver's
// own record (no job, no monitor, as libvirt) and the postcopy one from
// QEMU.
func (c *conn) DomainMigrateGetMaxSpeed(h driver.Domain, flags uint32) (uint64, error) {
	if flags&^migrateMaxSpeedPostcopy != 0 {
		return 0, errFlagsFn(flags&^migrateMaxSpeedPostcopy, "qemuDomainMigrateGetMaxSpeed")
	}
	if flags&migrateMaxSpeedPostcopy == 0 {
		v, err := c.d.doms.get(h)
		if err != nil {
			return 0, err
		}
		return migSpeedOf(v), nil
	}
	var out uint64
	err := c.withJob(h, "migration query", func(_ *vm, mon monitor) error {
		p, err := fetchMigParams(mon)
		if err != nil {
			return err
		}
		if p.MaxPostcopyBandwidth == nil {
			return errQEMU(virerr.ErrOperationInvalid, "%s", "querying maximum post-copy migration speed is not supported by QEMU binary")
		}
		out = *p.MaxPostcopyBandwidth / (1024 * 1024)
		return nil
	})
	return out, err
}

func (c *conn) DomainMigrateSetMaxSpeed(h driver.Domain, bw uint64, flags uint32) error {
	if flags&^migrateMaxSpeedPostcopy != 0 {
		return errFlagsFn(flags&^migrateMaxSpeedPostcopy, "qemuDomainMigrateSetMaxSpeed")
	}
	postcopy := flags&migrateMaxSpeedPostcopy != 0
	max := uint64(migBandwidthMax)
	if postcopy {
		max = math.MaxUint64 / 1024 / 1024
	}
	if bw > max {
		return errQEMU(virerr.ErrOverflow, "bandwidth must be less than %d", max+1)
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	active := v.active()
	if !postcopy && !active {
		v.ext.migSpeed, v.ext.migSpeedSet = bw, true
		v.mu.Unlock()
		return nil
	}
	v.mu.Unlock()
	return c.withJob(h, "migration parameters", func(v *vm, mon monitor) error {
		name := "max-bandwidth"
		if postcopy {
			name = "max-postcopy-bandwidth"
		}
		if err := setMigParam(mon, name, bw*1024*1024); err != nil {
			return err
		}
		if !postcopy {
			v.mu.Lock()
			v.ext.migSpeed, v.ext.migSpeedSet = bw, true
			v.mu.Unlock()
		}
		return nil
	})
}

// migSpeedOf is the guest's migration speed limit in MiB/s.
func migSpeedOf(v *vm) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.ext.migSpeedSet {
		return migBandwidthMax
	}
	return v.ext.migSpeed
}
