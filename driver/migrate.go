package driver

import "io"

// DomainMigrator is the driver side of libvirt's migration protocol
// version 3 with extensible parameters, as virDomainMigrate3 drives it in
// the default (non-peer-to-peer) mode: Begin, Perform and Confirm on the
// source connection, Prepare and Finish on the destination. Cookies are
// opaque to the client and passed from each step to the next.
type DomainMigrator interface {
	DomainMigrateBegin3(d Domain, params []TypedParam, flags uint32) (xml string, cookieOut []byte, err error)
	DomainMigratePrepare3(params []TypedParam, cookieIn []byte, flags uint32) (cookieOut []byte, uri string, err error)
	DomainMigratePerform3(d Domain, dconnURI string, params []TypedParam, cookieIn []byte, flags uint32) (cookieOut []byte, err error)
	DomainMigrateFinish3(params []TypedParam, cookieIn []byte, flags uint32, cancelled bool) (Domain, []byte, error)
	DomainMigrateConfirm3(d Domain, params []TypedParam, cookieIn []byte, flags uint32, cancelled bool) error
}

// FeatureSupporter answers virConnectSupportsFeature for the driver's own
// features (VIR_DRV_FEATURE_MIGRATION_V3, ...); the RPC layer answers the
// protocol's.
type FeatureSupporter interface {
	SupportsFeature(feature int32) bool
}

// DomainMigrateTunneller is the destination of a tunnelled migration
// (virsh migrate --p2p --tunnelled): Prepare returns, besides the cookie,
// where the migration stream the source daemon sends over the RPC
// connection goes; closing it ends the stream.
type DomainMigrateTunneller interface {
	DomainMigratePrepareTunnel3(params []TypedParam, cookieIn []byte, flags uint32) (cookieOut []byte, in io.WriteCloser, err error)
}
