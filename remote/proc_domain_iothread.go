package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainSetIothreadParams: domainSetIOThreadParams,
	})
}

func domainSetIOThreadParams(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetIothreadParamsArgs](body)
	if err != nil {
		return nil, err
	}
	// virDomainSetIOThreadParams's own check.
	if len(a.Params) == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "nparams in virDomainSetIOThreadParams must be greater than zero")
	}
	d, err := need[driver.DomainIOThreadParams](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetIOThreadParams(drvDom(a.Dom), a.IothreadID, paramsFromWire(a.Params), a.Flags)
}
