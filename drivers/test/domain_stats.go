package test

import (
	"net"
	"strings"

	"govirt/driver"
	"govirt/virerr"
)

// The test driver's statistics are derived from the wall clock: no
// meaning, just numbers that grow.

func (in *instance) DomainBlockStats(d driver.Domain, path string) (driver.BlockStats, error) {
	var st driver.BlockStats
	if path == "" {
		return st, errTest(virerr.ErrOperationUnsupported, "summary statistics are not supported yet")
	}
	err := in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		if !hasDisk(o, path) {
			return errTest(virerr.ErrInvalidArg, "invalid path: %s", path)
		}
		t := int64(nowMicros())
		st = driver.BlockStats{RdReq: t / 10, RdBytes: t / 20, WrReq: t / 30, WrBytes: t / 40, Errs: t / 2000000}
		return nil
	})
	return st, err
}

// hasDisk is virDomainDiskIndexByName: a target name, or an unambiguous
// source path when the name starts with '/'.
func hasDisk(o *domObj, name string) bool {
	found := 0
	for _, disk := range o.def.Devices.Disks {
		if !strings.HasPrefix(name, "/") {
			if disk.TargetDev == name {
				return true
			}
		} else if disk.Source.Path == name {
			found++
		}
	}
	return found == 1
}

// DomainBlockStatsFlags is not in libvirt's test driver; virsh falls back
// to the legacy call, and doing the same keeps its output identical.
func (in *instance) DomainBlockStatsFlags(d driver.Domain, path string, flags uint32) ([]driver.TypedParam, error) {
	return nil, errNoSupport(virerr.FromDomain, "virDomainBlockStatsFlags")
}

func (in *instance) DomainInterfaceStats(d driver.Domain, dev string) (driver.InterfaceStats, error) {
	var st driver.InterfaceStats
	err := in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		if !hasInterface(o, dev) {
			return virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "'%s' is not a known interface", dev)
		}
		t := int64(nowMicros())
		st = driver.InterfaceStats{
			RxBytes: t / 10, RxPackets: t / 100, RxErrs: t / 1000000, RxDrop: t / 2000000,
			TxBytes: t / 20, TxPackets: t / 110, TxErrs: t / 3000000, TxDrop: t / 4000000,
		}
		return nil
	})
	return st, err
}

// hasInterface is virDomainNetFind: by MAC when dev parses as one,
// otherwise by host-side name.
func hasInterface(o *domObj, dev string) bool {
	mac, macErr := net.ParseMAC(dev)
	for _, n := range o.def.Devices.Interfaces {
		if macErr == nil {
			if m, err := net.ParseMAC(n.MAC); err == nil && m.String() == mac.String() {
				return true
			}
		} else if n.TargetDev == dev {
			return true
		}
	}
	return false
}

func (in *instance) DomainMemoryStats(d driver.Domain, maxStats uint32, flags uint32) ([]driver.MemoryStat, error) {
	if err := checkFlags(flags, 0, "testDomainMemoryStats"); err != nil {
		return nil, err
	}
	var out []driver.MemoryStat
	err := in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		if b := o.def.Devices.MemBalloon; b == nil || b.Model == "none" {
			return nil
		}
		cur := o.def.CurrentMemory
		all := []driver.MemoryStat{
			{Tag: driver.MemStatActualBalloon, Val: cur},
			{Tag: driver.MemStatSwapIn}, {Tag: driver.MemStatSwapOut},
			{Tag: driver.MemStatMajorFault}, {Tag: driver.MemStatMinorFault},
			{Tag: driver.MemStatUnused, Val: cur / 2},
			{Tag: driver.MemStatAvailable, Val: cur},
			{Tag: driver.MemStatUsable, Val: cur / 2},
			{Tag: driver.MemStatLastUpdate, Val: 627319920},
			{Tag: driver.MemStatDiskCaches, Val: cur / 8},
			{Tag: driver.MemStatHugetlbAlloc}, {Tag: driver.MemStatHugetlbFail},
			{Tag: driver.MemStatRSS, Val: cur / 2},
		}
		if uint32(len(all)) > maxStats {
			all = all[:maxStats]
		}
		out = all
		return nil
	})
	return out, err
}

// Stats groups the test driver can fill (virDomainStatsTypes).
const (
	statsState    = 1 << 0
	statsIOThread = 1 << 7

	statsEnforce = 1 << 31 // VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS
)

func (in *instance) GetAllDomainStats(doms []driver.Domain, stats uint32, flags uint32) ([]driver.DomainStats, error) {
	const supported = statsState | statsIOThread
	if stats == 0 {
		stats = supported
	} else if flags&statsEnforce != 0 && stats&^supported != 0 {
		return nil, errTest(virerr.ErrArgumentUnsupported, "Stats types bits 0x%x are not supported by this daemon", stats&^supported)
	}
	listFlags := flags & (driver.ListActive | driver.ListInactive | driver.ListPersistent | driver.ListTransient | driver.ListRunning | driver.ListPaused | driver.ListShutoff | driver.ListOther)
	in.mu.RLock()
	defer in.mu.RUnlock()
	var objs []*domObj
	if len(doms) > 0 {
		// Like libvirt, domains that vanished meanwhile are skipped.
		for _, d := range doms {
			o := in.doms[d.UUID]
			if o != nil && (listFlags == 0 || o.matches(listFlags)) {
				objs = append(objs, o)
			}
		}
	} else {
		for _, o := range in.sortedDoms() {
			if listFlags == 0 || o.matches(listFlags) {
				objs = append(objs, o)
			}
		}
	}
	out := make([]driver.DomainStats, 0, len(objs))
	for _, o := range objs {
		rec := driver.DomainStats{Dom: o.handle()}
		if stats&statsState != 0 {
			rec.Params = append(rec.Params,
				driver.TypedParam{Field: "state.state", Value: int32(o.state)},
				driver.TypedParam{Field: "state.reason", Value: o.reason})
		}
		if stats&statsIOThread != 0 {
			rec.Params = append(rec.Params, o.iothreadStats()...)
		}
		out = append(out, rec)
	}
	return out, nil
}

func (in *instance) NodeGetSecurityModel() (driver.SecurityModel, error) {
	return driver.SecurityModel{Model: "testSecurity", DOI: ""}, nil
}

// DomainGetSecurityLabel labels running domains only.
func (in *instance) DomainGetSecurityLabel(d driver.Domain) (driver.SecurityLabel, error) {
	var l driver.SecurityLabel
	err := in.withDom(d, func(o *domObj) error {
		if o.active() {
			l = driver.SecurityLabel{Label: "libvirt-test", Enforcing: true}
		}
		return nil
	})
	return l, err
}

// Message flags (virDomainMessageType).
const (
	messageDeprecation = 1 << 0
	messageTainting    = 1 << 1
)

// DomainGetMessages: the test driver only taints for settings conf does
// not model (rawio, custom dtb, shell scripts), so there is nothing to say.
func (in *instance) DomainGetMessages(d driver.Domain, flags uint32) ([]string, error) {
	if err := checkFlags(flags, messageDeprecation|messageTainting, "testDomainGetMessages"); err != nil {
		return nil, err
	}
	return []string{}, in.withDom(d, func(*domObj) error { return nil })
}
