package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainSave:                domainSave(false),
		procs.DomainSaveFlags:           domainSave(true),
		procs.DomainRestore:             domainRestore(false),
		procs.DomainRestoreFlags:        domainRestore(true),
		procs.DomainManagedSave:         onFlags(drvDom, driver.DomainSaver.DomainManagedSave),
		procs.DomainHasManagedSaveImage: queryFlags(drvDom, driver.DomainSaver.DomainHasManagedSaveImage, retBool),
		procs.DomainManagedSaveRemove:   onFlags(drvDom, driver.DomainSaver.DomainManagedSaveRemove),

		procs.DomainBlockStats:         domainBlockStats,
		procs.DomainBlockStatsFlags:    domainBlockStatsFlags,
		procs.DomainInterfaceStats:     domainInterfaceStats,
		procs.DomainMemoryStats:        domainMemoryStats,
		procs.ConnectGetAllDomainStats: connectGetAllDomainStats,
		procs.NodeGetSecurityModel:     nodeGetSecurityModel,
		procs.DomainGetSecurityLabel:   query(drvDom, driver.DomainSecurity.DomainGetSecurityLabel, wireSecLabel),
		procs.DomainGetMessages:        queryFlags(drvDom, driver.DomainSecurity.DomainGetMessages, func(m []string) any { return DomainGetMessagesRet{Msgs: m} }),

		procs.DomainAttachDevice:      deviceOp(driver.DomainDevices.DomainAttachDeviceFlags, false),
		procs.DomainAttachDeviceFlags: deviceOp(driver.DomainDevices.DomainAttachDeviceFlags, true),
		procs.DomainDetachDevice:      deviceOp(driver.DomainDevices.DomainDetachDeviceFlags, false),
		procs.DomainDetachDeviceFlags: deviceOp(driver.DomainDevices.DomainDetachDeviceFlags, true),
		procs.DomainUpdateDeviceFlags: deviceOp(driver.DomainDevices.DomainUpdateDeviceFlags, true),
	})
}

func domainSave(withFlags bool) procFunc {
	return func(h *handler, body []byte) (any, error) {
		var a DomainSaveFlagsArgs
		var err error
		if withFlags {
			a, err = args[DomainSaveFlagsArgs](body)
		} else {
			var b DomainSaveArgs
			b, err = args[DomainSaveArgs](body)
			a.Dom, a.To = b.Dom, b.To
		}
		if err != nil {
			return nil, err
		}
		d, err := need[driver.DomainSaver](h)
		if err != nil {
			return nil, err
		}
		// The public API hands drivers absolute paths.
		return nil, d.DomainSave(drvDom(a.Dom), absPath(a.To), optString(a.Dxml), a.Flags)
	}
}

func domainRestore(withFlags bool) procFunc {
	return func(h *handler, body []byte) (any, error) {
		var a DomainRestoreFlagsArgs
		var err error
		if withFlags {
			a, err = args[DomainRestoreFlagsArgs](body)
		} else {
			var b DomainRestoreArgs
			b, err = args[DomainRestoreArgs](body)
			a.From = b.From
		}
		if err != nil {
			return nil, err
		}
		d, err := need[driver.DomainSaver](h)
		if err != nil {
			return nil, err
		}
		return nil, d.DomainRestore(absPath(a.From), optString(a.Dxml), a.Flags)
	}
}

func domainBlockStats(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockStatsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainStatser](h)
	if err != nil {
		return nil, err
	}
	s, err := d.DomainBlockStats(drvDom(a.Dom), a.Path)
	if err != nil {
		return nil, err
	}
	return DomainBlockStatsRet{RdReq: s.RdReq, RdBytes: s.RdBytes, WrReq: s.WrReq, WrBytes: s.WrBytes, Errs: s.Errs}, nil
}

func domainBlockStatsFlags(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockStatsFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainStatser](h)
	if err != nil {
		return nil, err
	}
	params, err := d.DomainBlockStatsFlags(drvDom(a.Dom), a.Path, a.Flags)
	if err != nil {
		return nil, err
	}
	wire := paramsToWire(params, a.Flags)
	if a.Nparams == 0 {
		return DomainBlockStatsFlagsRet{Params: []TypedParam{}, Nparams: int32(len(wire))}, nil
	}
	if int32(len(wire)) > a.Nparams {
		wire = wire[:a.Nparams]
	}
	return DomainBlockStatsFlagsRet{Params: wire, Nparams: int32(len(wire))}, nil
}

func domainInterfaceStats(h *handler, body []byte) (any, error) {
	a, err := args[DomainInterfaceStatsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainStatser](h)
	if err != nil {
		return nil, err
	}
	s, err := d.DomainInterfaceStats(drvDom(a.Dom), a.Device)
	if err != nil {
		return nil, err
	}
	return DomainInterfaceStatsRet{RxBytes: s.RxBytes, RxPackets: s.RxPackets, RxErrs: s.RxErrs, RxDrop: s.RxDrop,
		TxBytes: s.TxBytes, TxPackets: s.TxPackets, TxErrs: s.TxErrs, TxDrop: s.TxDrop}, nil
}

func domainMemoryStats(h *handler, body []byte) (any, error) {
	a, err := args[DomainMemoryStatsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainStatser](h)
	if err != nil {
		return nil, err
	}
	stats, err := d.DomainMemoryStats(drvDom(a.Dom), a.MaxStats, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := DomainMemoryStatsRet{Stats: []DomainMemoryStat{}}
	for _, s := range stats {
		if uint32(len(ret.Stats)) >= a.MaxStats {
			break
		}
		ret.Stats = append(ret.Stats, DomainMemoryStat{Tag: s.Tag, Val: s.Val})
	}
	return ret, nil
}

func connectGetAllDomainStats(h *handler, body []byte) (any, error) {
	a, err := args[ConnectGetAllDomainStatsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainStatser](h)
	if err != nil {
		return nil, err
	}
	recs, err := d.GetAllDomainStats(mapSlice(a.Doms, drvDom), a.Stats, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := ConnectGetAllDomainStatsRet{RetStats: []DomainStatsRecord{}}
	for _, r := range recs {
		// Stats records always carry strings: the API has no STRING_OKAY flag.
		ret.RetStats = append(ret.RetStats, DomainStatsRecord{Dom: wireDom(r.Dom), Params: paramsToWire(r.Params, 1<<2)})
	}
	return ret, nil
}

func nodeGetSecurityModel(h *handler, _ []byte) (any, error) {
	var m driver.SecurityModel
	if d, ok := h.conn().(driver.DomainSecurity); ok {
		var err error
		if m, err = d.NodeGetSecurityModel(); err != nil {
			return nil, err
		}
	}
	return NodeGetSecurityModelRet{Model: charArray(m.Model), Doi: charArray(m.DOI)}, nil
}

func wireSecLabel(l driver.SecurityLabel) any {
	return DomainGetSecurityLabelRet{Label: charArray(l.Label), Enforcing: boolInt(l.Enforcing)}
}

func deviceOp(fn func(driver.DomainDevices, driver.Domain, string, uint32) error, withFlags bool) procFunc {
	return func(h *handler, body []byte) (any, error) {
		var a DomainAttachDeviceFlagsArgs
		var err error
		if withFlags {
			a, err = args[DomainAttachDeviceFlagsArgs](body)
		} else {
			var b DomainAttachDeviceArgs
			b, err = args[DomainAttachDeviceArgs](body)
			a.Dom, a.XML, a.Flags = b.Dom, b.XML, affectLive
		}
		if err != nil {
			return nil, err
		}
		d, err := need[driver.DomainDevices](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, drvDom(a.Dom), a.XML, a.Flags)
	}
}
