package remote

import (
	"fmt"
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainInjectNmi: onFlags(drvDom, driver.DomainHostCalls.DomainInjectNMI),
		procs.DomainGetControlInfo: queryFlags(drvDom, driver.DomainHostCalls.DomainGetControlInfo, func(i driver.DomainControlInfo) any {
			return DomainGetControlInfoRet{State: i.State, Details: i.Details, StateTime: i.StateTime}
		}),
		procs.DomainGetDiskErrors: domainGetDiskErrors,
		procs.DomainGetTime: queryFlags(drvDom, func(d driver.DomainAgentCalls, dom driver.Domain, flags uint32) (DomainGetTimeRet, error) {
			s, ns, err := d.DomainGetTime(dom, flags)
			return DomainGetTimeRet{Seconds: s, Nseconds: ns}, err
		}, func(r DomainGetTimeRet) any { return r }),
		procs.DomainSetTime:            domainSetTime,
		procs.DomainSetUserPassword:    domainSetUserPassword,
		procs.DomainSendKey:            domainSendKey,
		procs.DomainSetLifecycleAction: domainSetLifecycleAction,
		procs.DomainGetHostname: queryFlags(drvDom, driver.DomainHostnames.DomainGetHostname, func(s string) any {
			return DomainGetHostnameRet{Hostname: s}
		}),
	})
}

func domainSendKey(h *handler, body []byte) (any, error) {
	a, err := args[DomainSendKeyArgs](body)
	if err != nil {
		return nil, err
	}
	// virDomainSendKey's own checks (the .x bound keeps nkeycodes <= 16).
	if len(a.Keycodes) == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "nkeycodes in virDomainSendKey must be greater than zero")
	}
	if a.Codeset >= 10 { // VIR_KEYCODE_SET_LAST
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, fmt.Sprintf("Unsupported codeset '%d'", a.Codeset))
	}
	d, err := need[driver.DomainKeys](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSendKey(drvDom(a.Dom), a.Codeset, a.Holdtime, a.Keycodes, a.Flags)
}

func domainGetDiskErrors(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetDiskErrorsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainHostCalls](h)
	if err != nil {
		return nil, err
	}
	errs, n, err := d.DomainGetDiskErrors(drvDom(a.Dom), a.Maxerrors, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := DomainGetDiskErrorsRet{Errors: []DomainDiskError{}, Nerrors: n}
	if a.Maxerrors > 0 {
		for _, e := range errs {
			ret.Errors = append(ret.Errors, DomainDiskError{Disk: e.Disk, Error: e.Error})
		}
	}
	return ret, nil
}

func domainSetTime(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetTimeArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainAgentCalls](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetTime(drvDom(a.Dom), a.Seconds, a.Nseconds, a.Flags)
}

func domainSetUserPassword(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetUserPasswordArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainAgentCalls](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetUserPassword(drvDom(a.Dom), optString(a.User), optString(a.Password), a.Flags)
}

// domainSetLifecycleAction applies virDomainSetLifecycleAction's range
// checks before the driver's.
func domainSetLifecycleAction(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetLifecycleActionArgs](body)
	if err != nil {
		return nil, err
	}
	if a.Type >= uint32(len(driver.LifecycleTypes)) {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "invalid lifecycle type '%d'", a.Type)
	}
	if a.Action >= uint32(len(driver.LifecycleActions)) {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "invalid lifecycle action '%d'", a.Action)
	}
	d, err := need[driver.DomainLifecycle](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetLifecycleAction(drvDom(a.Dom), a.Type, a.Action, a.Flags)
}
