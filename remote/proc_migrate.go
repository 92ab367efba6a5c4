package remote

import (
	"io"

	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
)

// Migration protocol 3 with extensible parameters: the procedures
// virDomainMigrate3 uses against libvirt 9.0 in the default mode.

func init() {
	register(true, map[int32]procFunc{
		procs.DomainMigrateBegin3Params:   migrateBegin3,
		procs.DomainMigratePrepare3Params: migratePrepare3,
		procs.DomainMigratePerform3Params: migratePerform3,
		procs.DomainMigrateFinish3Params:  migrateFinish3,
		procs.DomainMigrateConfirm3Params: migrateConfirm3,
	})
	openStreamProcs[procs.DomainMigratePrepareTunnel3Params] = migratePrepareTunnel3
}

// migratePrepareTunnel3 is the destination's Prepare of a tunnelled
// migration: the reply carries the cookie, then the source daemon sends
// QEMU's migration stream on the call's stream until it finishes it.
func migratePrepareTunnel3(h *handler, body []byte) (opened, error) {
	a, err := args[DomainMigratePrepareTunnel3ParamsArgs](body)
	if err != nil {
		return opened{}, err
	}
	d, err := need[driver.DomainMigrateTunneller](h)
	if err != nil {
		return opened{}, err
	}
	cookie, in, err := d.DomainMigratePrepareTunnel3(paramsFromWire(a.Params), a.CookieIn, a.Flags)
	if err != nil {
		return opened{}, err
	}
	return opened{
		ret: DomainMigratePrepareTunnel3ParamsRet{CookieOut: cookie},
		serve: func(st *rpc.Stream) error {
			defer in.Close()
			_, err := io.CopyBuffer(in, st, make([]byte, 256<<10))
			return err
		},
		release: func() { in.Close() },
	}, nil
}

func migrateBegin3(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigrateBegin3ParamsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrator](h)
	if err != nil {
		return nil, err
	}
	xml, cookie, err := d.DomainMigrateBegin3(drvDom(a.Dom), paramsFromWire(a.Params), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainMigrateBegin3ParamsRet{CookieOut: cookie, XML: xml}, nil
}

func migratePrepare3(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigratePrepare3ParamsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrator](h)
	if err != nil {
		return nil, err
	}
	cookie, uri, err := d.DomainMigratePrepare3(paramsFromWire(a.Params), a.CookieIn, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := DomainMigratePrepare3ParamsRet{CookieOut: cookie}
	if uri != "" {
		ret.URIOut = strPtr(uri)
	}
	return ret, nil
}

func migratePerform3(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigratePerform3ParamsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrator](h)
	if err != nil {
		return nil, err
	}
	cookie, err := d.DomainMigratePerform3(drvDom(a.Dom), optString(a.Dconnuri), paramsFromWire(a.Params), a.CookieIn, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainMigratePerform3ParamsRet{CookieOut: cookie}, nil
}

func migrateFinish3(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigrateFinish3ParamsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrator](h)
	if err != nil {
		return nil, err
	}
	dom, cookie, err := d.DomainMigrateFinish3(paramsFromWire(a.Params), a.CookieIn, a.Flags, a.Cancelled != 0)
	if err != nil {
		return nil, err
	}
	return DomainMigrateFinish3ParamsRet{Dom: wireDom(dom), CookieOut: cookie}, nil
}

func migrateConfirm3(h *handler, body []byte) (any, error) {
	a, err := args[DomainMigrateConfirm3ParamsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMigrator](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainMigrateConfirm3(drvDom(a.Dom), paramsFromWire(a.Params), a.CookieIn, a.Flags, a.Cancelled != 0)
}
