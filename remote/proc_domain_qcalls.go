package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// Migration parameters, individual vCPUs, block thresholds, dirty rate
// and storage pool capabilities.

func init() {
	register(true, map[int32]procFunc{
		procs.DomainMigrateGetMaxDowntime: queryFlags(drvDom, driver.DomainMigrationParams.DomainMigrateGetMaxDowntime,
			func(v uint64) any { return DomainMigrateGetMaxDowntimeRet{Downtime: v} }),
		procs.DomainMigrateGetMaxSpeed: queryFlags(drvDom, driver.DomainMigrationParams.DomainMigrateGetMaxSpeed,
			func(v uint64) any { return DomainMigrateGetMaxSpeedRet{Bandwidth: v} }),
		procs.DomainMigrateGetCompressionCache: queryFlags(drvDom, driver.DomainMigrationParams.DomainMigrateGetCompressionCache,
			func(v uint64) any { return DomainMigrateGetCompressionCacheRet{CacheSize: v} }),
		procs.DomainMigrateSetMaxDowntime:       domainMigrateSetMaxDowntime,
		procs.DomainMigrateSetMaxSpeed:          domainMigrateSetMaxSpeed,
		procs.DomainMigrateSetCompressionCache:  domainMigrateSetCompressionCache,
		procs.DomainSetVcpu:                     domainSetVcpu,
		procs.DomainSetBlockThreshold:           domainSetBlockThreshold,
		procs.DomainStartDirtyRateCalc:          domainStartDirtyRateCalc,
		procs.ConnectGetStoragePoolCapabilities: connectGetStoragePoolCapabilities,
	})
}

func domainMigrateSetMaxDowntime(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigrateSetMaxDowntimeArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrationParams](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainMigrateSetMaxDowntime(drvDom(a.Dom), a.Downtime, a.Flags)
}

func domainMigrateSetMaxSpeed(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigrateSetMaxSpeedArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrationParams](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainMigrateSetMaxSpeed(drvDom(a.Dom), a.Bandwidth, a.Flags)
}

func domainMigrateSetCompressionCache(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigrateSetCompressionCacheArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrationParams](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainMigrateSetCompressionCache(drvDom(a.Dom), a.CacheSize, a.Flags)
}

func domainSetVcpu(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetVcpuArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainVcpuSetter](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetVcpu(drvDom(a.Dom), a.Cpumap, a.State, a.Flags)
}

func domainSetBlockThreshold(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetBlockThresholdArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockThresholder](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetBlockThreshold(drvDom(a.Dom), a.Dev, a.Threshold, a.Flags)
}

func domainStartDirtyRateCalc(h *handler, body []byte) (any, error) {
	a, err := args[DomainStartDirtyRateCalcArgs](body)
	if err != nil {
		return nil, err
	}
	// virDomainStartDirtyRateCalc's check: one mode at most (page
	// sampling is the 0 default, so only these two can clash).
	if a.Flags&(1<<0) != 0 && a.Flags&(1<<1) != 0 {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "%s",
			"Flags 'VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP' and 'VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING' are mutually exclusive")
	}
	d, err := need[driver.DomainDirtyRater](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainStartDirtyRateCalc(drvDom(a.Dom), a.Seconds, a.Flags)
}

func connectGetStoragePoolCapabilities(h *handler, body []byte) (any, error) {
	a, err := args[ConnectGetStoragePoolCapabilitiesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StoragePoolCapser](h)
	if err != nil {
		return nil, err
	}
	s, err := d.ConnectGetStoragePoolCapabilities(a.Flags)
	if err != nil {
		return nil, err
	}
	return ConnectGetStoragePoolCapabilitiesRet{Capabilities: s}, nil
}
