// Package driver is the boundary between the RPC layer and the hypervisor
// drivers. A remote procedure maps onto one method. Only Driver and Conn are
// mandatory; every other capability is a small interface a connection may
// implement, and the dispatcher answers VIR_ERR_NO_SUPPORT when it does not,
// so a new driver can grow one area at a time.
package driver

import (
	"context"
	"net/url"

	"govirt/events"
	"govirt/uuid"
)

// Driver opens connections for one URI scheme ("test", "qemu").
type Driver interface {
	Name() string
	// Open returns a connection for uri, or (nil, nil) when the URI is not
	// for this driver (so the next driver may claim it).
	Open(uri *url.URL, readOnly bool) (Conn, error)
}

// Conn is one client's open connection to a driver. Objects (domains,
// networks, ...) are shared by all connections of the driver.
type Conn interface {
	Close() error
	// URI is the canonical URI the connection was opened with.
	URI() string
	// Type is virConnectGetType: "Test", "QEMU".
	Type() string
	// Version is the hypervisor version, major*1000000+minor*1000+micro.
	Version() (uint64, error)
	Capabilities() (string, error)
	NodeInfo() (NodeInfo, error)
	// Events is the driver's bus; it carries DomainEvent, NetworkEvent and
	// PoolEvent values.
	Events() *events.Bus
}

// NodeInfo is virNodeInfo.
type NodeInfo struct {
	Model   string
	Memory  uint64 // KiB
	CPUs    int32
	MHz     int32
	Nodes   int32
	Sockets int32
	Cores   int32
	Threads int32
}

// Domain identifies a domain the way the wire does: {name, uuid, id}, id -1
// when inactive. Lookups on the wire go by UUID.
type Domain struct {
	Name string
	UUID uuid.UUID
	ID   int32
}

// Network identifies a virtual network.
type Network struct {
	Name string
	UUID uuid.UUID
}

// Pool identifies a storage pool.
type Pool struct {
	Name string
	UUID uuid.UUID
}

// Vol identifies a storage volume.
type Vol struct {
	Pool string
	Name string
	Key  string
}

// Snapshot identifies a domain snapshot.
type Snapshot struct {
	Dom  Domain
	Name string
}

// Interface identifies a host interface.
type Interface struct {
	Name string
	MAC  string
}

// TypedParam is one virTypedParameter. Value holds int32, uint32, int64,
// uint64, float64, bool or string; the Go type picks the wire type.
type TypedParam struct {
	Field string
	Value any
}

// CallScoper is a connection that wants to know each call: the dispatcher
// asks it for the Conn serving one call, passing the call's context (ended
// when the client disconnects, so waits for a guest's job stop) and the
// name libvirtd's dispatcher function has for the procedure
// (remoteDispatchDomainSuspend), which libvirt reports as a job's owner.
type CallScoper interface {
	ForCall(ctx context.Context, holder string) Conn
}
