package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

func init() {
	registerAPI(map[int32]procFunc{
		procs.InterfaceDefineXML:      create(driver.InterfaceEditor.InterfaceDefineXML, wireIface),
		procs.InterfaceUndefine:       on(drvIface, driver.InterfaceEditor.InterfaceUndefine),
		procs.InterfaceCreate:         onFlags(drvIface, driver.InterfaceEditor.InterfaceCreate),
		procs.InterfaceDestroy:        onFlags(drvIface, driver.InterfaceEditor.InterfaceDestroy),
		procs.InterfaceChangeBegin:    ifaceChange(driver.InterfaceEditor.InterfaceChangeBegin),
		procs.InterfaceChangeCommit:   ifaceChange(driver.InterfaceEditor.InterfaceChangeCommit),
		procs.InterfaceChangeRollback: ifaceChange(driver.InterfaceEditor.InterfaceChangeRollback),
	})
}

// ifaceChange adapts the transaction calls: {flags} in, nothing out.
func ifaceChange(fn func(driver.InterfaceEditor, uint32) error) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[InterfaceChangeBeginArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[driver.InterfaceEditor](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, a.Flags)
	}
}

// registerAPI registers procedures whose "not supported" answer (for a
// driver without the method) names the API's own error domain, as the
// answer for an unregistered procedure does (adapter.go) and libvirt's
// public API reports it (virReportUnsupportedError in libvirt-interface.c,
// libvirt-nodedev.c, libvirt-domain-checkpoint.c).
func registerAPI(m map[int32]procFunc) {
	for proc, fn := range m {
		fn := fn
		api := apiName(proc)
		m[proc] = func(h *handler, body []byte) (any, error) {
			ret, err := fn(h, body)
			if err == errNoSupport {
				err = virerr.New(apiErrorDomain(api), virerr.ErrNoSupport, "%s", api)
			}
			return ret, err
		}
	}
	register(true, m)
}
