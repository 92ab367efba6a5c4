package qemu

import (
	"context"
	"errors"

	"govirt/client"
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// resumeP2P is a peer-to-peer resume of a failed post-copy migration
// (virsh migrate --p2p --postcopy --postcopy-resume), as libvirt's
// qemuMigrationSrcPerformJob and qemuMigrationSrcPerformPeer2Peer3 in
// resume mode: Begin here, Prepare there, Perform here, Finish there,
// Confirm here, the migration parked again whenever a step fails.
func (c *conn) resumeP2P(h driver.Domain, dconnURI string, params []driver.TypedParam, flags uint32) error {
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return err
	}
	m, err := c.takeResume(v, false, flags, phasePostcopyFailed, phaseBeginResume, c.owner("migration out"))
	if err != nil {
		return err
	}
	done, err := d.resumePeerSteps(v, m, dconnURI, params, flags)
	if !done {
		d.parkMigration(v, m)
	}
	return err
}

// resumePeerSteps runs the steps; done says the migration was ended (or
// parked) by Confirm.
func (d *Driver) resumePeerSteps(v *vm, m *migration, dconnURI string, params []driver.TypedParam, flags uint32) (bool, error) {
	dc, err := dialPeerDest(dconnURI)
	if err != nil {
		return false, err
	}
	defer dc.Close()
	xml, cookie, err := d.beginResumeXML(v, params)
	if err != nil {
		return false, err
	}
	dparams := setParam(params, migParamDestXML, xml)
	destFlags := flags &^ (migrateAbortOnError | migrateAutoConverge)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-dc.Done():
			cancel()
		case <-ctx.Done():
		}
	}()

	var pret p2pPrepareRet
	if err := dc.Call(ctx, procs.DomainMigratePrepare3Params,
		p2pPrepareArgs{Params: wireParams(dparams), CookieIn: cookie, Flags: destFlags}, &pret); err != nil {
		return false, p2pCallErr(dc, err)
	}
	if pret.URIOut != nil {
		dparams = setParam(dparams, migParamURI, *pret.URIOut)
	}
	var perr error
	if migParam(dparams, migParamURI) == "" {
		perr = errQEMU(virerr.ErrInternalError, "%s", "domainMigratePrepare3 did not set uri")
	} else {
		v.mu.Lock()
		m.Phase = phasePerformResume
		v.mu.Unlock()
		d.saveStatusLogged(v)
		perr = d.performResume(ctx, v, dparams, flags)
		if perr != nil && dcDropped(dc) {
			perr = errLostDestination()
		}
	}
	if migParam(dparams, migParamDestName) == "" {
		v.mu.Lock()
		name := v.name
		v.mu.Unlock()
		dparams = setParam(dparams, migParamDestName, name)
	}
	cancelled := perr != nil
	var fret p2pFinishRet
	ferr := dc.Call(context.Background(), procs.DomainMigrateFinish3Params,
		p2pFinishArgs{Params: wireParams(dparams), CookieIn: d.makeCookie(v, ""), Flags: destFlags, Cancelled: int32(boolInt(cancelled))}, &fret)
	if ferr != nil {
		ferr = p2pCallErr(dc, ferr)
	}
	v.mu.Lock()
	m.Phase = phaseConfirmResume
	v.mu.Unlock()
	d.confirmResumed(v, m, cancelled || ferr != nil)
	if cancelled {
		var fe, pe *virerr.Error
		if errors.As(ferr, &fe) && errors.As(perr, &pe) && pe.Code == virerr.ErrOperationFailed &&
			fe.Domain == virerr.FromQemu && fe.Code != virerr.ErrMigrateFinishOk {
			return true, ferr
		}
		return true, perr
	}
	return true, ferr
}

// dialPeerDest opens the source daemon's own connection to the
// destination for a peer-to-peer resume, with keepalive, and checks the
// features the steps need (as migrateP2P).
func dialPeerDest(dconnURI string) (*client.Client, error) {
	if dconnURI == "" {
		return nil, errQEMU(virerr.ErrInvalidArg, "%s", "dconnuri in virDomainMigratePerform3Params must not be NULL")
	}
	dc, err := client.DialOptions(context.Background(), dconnURI, client.Options{})
	if err != nil {
		var ve *virerr.Error
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, errQEMU(virerr.ErrOperationFailed, "Failed to connect to remote libvirt URI %s: %v", dconnURI, err)
	}
	dc.KeepAlive(p2pKeepAliveInterval, p2pKeepAliveCount)
	for _, f := range []int32{featureMigrationP2P, featureMigrationV3, featureMigrationParams} {
		var ret struct{ Supported int32 }
		if err := dc.Call(context.Background(), procs.ConnectSupportsFeature, struct{ Feature int32 }{f}, &ret); err != nil {
			dc.Close()
			return nil, p2pCallErr(dc, err)
		}
		if ret.Supported == 0 {
			dc.Close()
			if f == featureMigrationP2P {
				return nil, errQEMU(virerr.ErrOperationFailed, "%s", "Destination libvirt does not support peer-to-peer migration protocol")
			}
			return nil, errQEMU(virerr.ErrArgumentUnsupported, "%s", "Migration APIs with extensible parameters are not supported but extended parameters were passed")
		}
	}
	return dc, nil
}
