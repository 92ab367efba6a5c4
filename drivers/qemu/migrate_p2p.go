package qemu

import (
	"context"
	"errors"
	"slices"
	"time"

	"govirt/client"
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
	"govirt/virerr"
)

// Peer-to-peer migration (virsh migrate --p2p): the client makes one call,
// Perform with the destination's URI, and this daemon drives the steps
// itself over its own connection to the destination daemon, as libvirt's
// qemuMigrationSrcPerformPeer2Peer3: Begin here, Prepare there, Perform
// here, Finish there, Confirm here. The connection is kept alive with
// libvirt's keepalive defaults; when it drops, the migration is cancelled.

// VIR_DRV_FEATURE_MIGRATION_P2P.
const featureMigrationP2P = 4

// Other virDomainMigrateFlags the peer-to-peer path reads.
const (
	migrateAbortOnError  = 1 << 12
	migrateAutoConverge  = 1 << 13
	migParamMigrateDisks = "migrate_disks"
)

// libvirt's keepalive_interval and keepalive_count defaults (qemu.conf).
var (
	p2pKeepAliveInterval = 5 * time.Second
	p2pKeepAliveCount    = 5
)

func errLostDestination() error {
	return errQEMU(virerr.ErrOperationFailed, "%s", "Lost connection to destination host")
}

func (c *conn) migrateP2P(h driver.Domain, dconnURI string, params []driver.TypedParam, flags uint32) error {
	tunnel := flags&migrateTunnelled != 0
	switch {
	case dconnURI == "":
		return errQEMU(virerr.ErrInvalidArg, "%s", "dconnuri in virDomainMigratePerform3Params must not be NULL")
	case tunnel && migParam(params, migParamURI) != "":
		return errQEMU(virerr.ErrArgumentUnsupported, "%s", "migration URI is not supported by tunnelled migration")
	case tunnel && migParam(params, migParamListenAddress) != "":
		return errQEMU(virerr.ErrArgumentUnsupported, "%s", "listen address is not supported by tunnelled migration")
	case tunnel && slices.ContainsFunc(params, func(p driver.TypedParam) bool { return p.Field == migParamDisksPort }):
		return errQEMU(virerr.ErrArgumentUnsupported, "%s", "disk port address is not supported by tunnelled migration")
	}
	if err := checkMigrateFlags(flags); err != nil {
		return err
	}
	if flags&migratePostcopyResume != 0 {
		return c.resumeP2P(h, dconnURI, params, flags) // migrate_resume_p2p.go
	}
	d := c.d
	dc, err := client.DialOptions(context.Background(), dconnURI, client.Options{})
	if err != nil {
		var ve *virerr.Error
		if errors.As(err, &ve) {
			return err
		}
		return errQEMU(virerr.ErrOperationFailed, "Failed to connect to remote libvirt URI %s: %v", dconnURI, err)
	}
	defer dc.Close()
	dc.KeepAlive(p2pKeepAliveInterval, p2pKeepAliveCount)
	features := []int32{featureMigrationP2P, featureMigrationV3, featureMigrationParams}
	if flags&migrateOffline != 0 {
		features = append(features, featureMigrationOffline)
	}
	for _, f := range features {
		var ret struct{ Supported int32 }
		if err := dc.Call(context.Background(), procs.ConnectSupportsFeature, struct{ Feature int32 }{f}, &ret); err != nil {
			return p2pCallErr(dc, err)
		}
		if ret.Supported == 0 {
			if f == featureMigrationP2P {
				return errQEMU(virerr.ErrOperationFailed, "%s", "Destination libvirt does not support peer-to-peer migration protocol")
			}
			if f == featureMigrationOffline {
				return errQEMU(virerr.ErrArgumentUnsupported, "%s", "offline migration is not supported by the destination host")
			}
			return errQEMU(virerr.ErrArgumentUnsupported, "%s", "Migration APIs with extensible parameters are not supported but extended parameters were passed")
		}
	}
	// Change protection only matters when Begin and Perform are separate
	// calls; here they are one job (libvirt clears the bit too).
	flags &^= migrateChangeProtection
	xml, cookie, err := c.migrateBegin3(h, params, flags, nil)
	if err != nil {
		return err
	}
	v, err := d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	m := v.mig
	if v.state == driver.StatePaused {
		flags |= migratePaused
	}
	name := v.name
	v.mu.Unlock()
	if m == nil || m.Incoming {
		return errQEMU(virerr.ErrOperationInvalid, "domain '%s' is not processing outgoing migration", name)
	}
	dparams := setParam(params, migParamDestXML, xml)
	destFlags := flags &^ (migrateAbortOnError | migrateAutoConverge)

	// The step runs until it ends or the destination's connection drops.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-dc.Done():
			cancel()
		case <-ctx.Done():
		}
	}()

	var tun *tunnelOut
	var dcookie []byte
	if tunnel {
		var ret struct{ CookieOut []byte }
		st, err := dc.CallStream(ctx, procs.DomainMigratePrepareTunnel3Params,
			p2pPrepareArgs{Params: wireParams(dparams), CookieIn: cookie, Flags: destFlags}, &ret)
		if err != nil {
			d.restoreSource(context.Background(), v, m)
			d.endMigration(v)
			return p2pCallErr(dc, err)
		}
		tun, dcookie = &tunnelOut{st: st}, ret.CookieOut
	} else {
		var ret p2pPrepareRet
		err := dc.Call(ctx, procs.DomainMigratePrepare3Params,
			p2pPrepareArgs{Params: wireParams(dparams), CookieIn: cookie, Flags: destFlags}, &ret)
		if err != nil {
			d.restoreSource(context.Background(), v, m)
			d.endMigration(v)
			return p2pCallErr(dc, err)
		}
		dcookie = ret.CookieOut
		if ret.URIOut != nil {
			dparams = setParam(dparams, migParamURI, *ret.URIOut)
		}
	}

	var perr error
	var pcookie []byte
	if flags&migrateOffline != 0 {
		// Only the definition moves (migrate_offline.go).
	} else if !tunnel && migParam(dparams, migParamURI) == "" {
		perr = errQEMU(virerr.ErrInternalError, "%s", "domainMigratePrepare3 did not set uri")
		d.restoreSource(context.Background(), v, m)
		d.endMigration(v)
	} else {
		pcookie, perr = d.performOut(ctx, v, m, dparams, dcookie, flags, tun)
		if perr != nil && dcDropped(dc) {
			perr = errLostDestination()
		}
	}

	// Finish there, told whether Perform failed; the destination's
	// answer decides Confirm here.
	if migParam(dparams, migParamDestName) == "" {
		dparams = setParam(dparams, migParamDestName, name)
	}
	cancelled := perr != nil
	var fret p2pFinishRet
	ferr := dc.Call(context.Background(), procs.DomainMigrateFinish3Params,
		p2pFinishArgs{Params: wireParams(dparams), CookieIn: pcookie, Flags: destFlags, Cancelled: int32(boolInt(cancelled))}, &fret)
	if ferr != nil {
		ferr = p2pCallErr(dc, ferr)
	}
	if cancelled {
		// Perform's error stands, unless QEMU failed and the destination
		// says why (its guest died), as libvirt.
		var fe, pe *virerr.Error
		if errors.As(ferr, &fe) && errors.As(perr, &pe) && pe.Code == virerr.ErrOperationFailed &&
			fe.Domain == virerr.FromQemu && fe.Code != virerr.ErrMigrateFinishOk {
			return ferr
		}
		return perr
	}
	var cerr error
	if flags&migrateOffline != 0 {
		cerr = d.offlineConfirm(v, flags, ferr != nil)
	} else {
		cerr = d.confirmOut(v, m, flags, ferr != nil)
	}
	if ferr != nil {
		return ferr
	}
	return cerr
}

// dcDropped reports whether the destination's connection has ended.
func dcDropped(dc *client.Client) bool {
	select {
	case <-dc.Done():
		return true
	default:
		return false
	}
}

// p2pCallErr is the error of a call to the destination daemon: its own
// libvirt error, or libvirt's when the connection went away.
func p2pCallErr(dc *client.Client, err error) error {
	var ve *virerr.Error
	switch {
	case errors.As(err, &ve):
		return err
	case dcDropped(dc) || errors.Is(err, client.ErrClosed) || errors.Is(err, context.Canceled):
		return errLostDestination()
	}
	return errQEMU(virerr.ErrOperationFailed, "%v", err)
}

// setParam returns params with name set to the string val (replaced if
// present), leaving params itself untouched.
func setParam(params []driver.TypedParam, name, val string) []driver.TypedParam {
	out := make([]driver.TypedParam, 0, len(params)+1)
	for _, p := range params {
		if p.Field != name {
			out = append(out, p)
		}
	}
	return append(out, driver.TypedParam{Field: name, Value: val})
}

func wireParams(params []driver.TypedParam) []xdr.TypedParam {
	out := make([]xdr.TypedParam, len(params))
	for i, p := range params {
		out[i] = xdr.TypedParam{Field: p.Field, Value: p.Value}
	}
	return out
}

// The wire messages of the steps sent to the destination, with
// remote_protocol.x's layouts (see migrate_peer.go for why they are
// declared here).
type (
	// remote_domain_migrate_prepare3_params_args, and
	// remote_domain_migrate_prepare_tunnel3_params_args.
	p2pPrepareArgs struct {
		Params   []xdr.TypedParam
		CookieIn []byte
		Flags    uint32
	}
	p2pPrepareRet struct {
		CookieOut []byte
		URIOut    *string
	}
	p2pFinishArgs struct {
		Params    []xdr.TypedParam
		CookieIn  []byte
		Flags     uint32
		Cancelled int32
	}
	p2pFinishRet struct {
		Dom       peerDomain
		CookieOut []byte
	}
)
