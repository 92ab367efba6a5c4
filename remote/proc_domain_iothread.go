package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// virsh iothreadset, numatune and perf: their setters.

func init() {
	register(true, map[int32]procFunc{
		procs.DomainSetIothreadParams: domainSetIOThreadParams,
		procs.DomainSetNumaParameters: domainSetNumaParameters,
		procs.DomainSetPerfEvents:     domainSetPerfEvents,
	})
}

func domainSetIOThreadParams(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetIothreadParamsArgs](body)
	if err != nil {
		return nil, err
	}
	// virDomainSetIOThreadParams's own check: libvirtd decodes no
	// parameters as a NULL array, which it refuses first.
	if len(a.Params) == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "params in virDomainSetIOThreadParams must not be NULL")
	}
	d, err := need[driver.DomainIOThreadParams](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetIOThreadParams(drvDom(a.Dom), a.IothreadID, paramsFromWire(a.Params), a.Flags)
}

func domainSetNumaParameters(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetNumaParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainNumaParamsSetter](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetNumaParameters(drvDom(a.Dom), paramsFromWire(a.Params), a.Flags)
}

func domainSetPerfEvents(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetPerfEventsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPerfEventsSetter](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetPerfEvents(drvDom(a.Dom), paramsFromWire(a.Params), a.Flags)
}
