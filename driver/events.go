package driver

// DomainEvent is published on a driver's bus for every domain event. ID
// selects which of the payload fields is meaningful.
type DomainEvent struct {
	ID  EventID
	Dom Domain
	// Lifecycle (EventIDLifecycle): event type and detail.
	Event  int32
	Detail int32
	// Payload carries the data of the other event IDs (e.g. TrayChange,
	// DeviceRemoved, BlockJob); nil for lifecycle and reboot.
	Payload any
}

// TrayChange is the payload of EventIDTrayChange.
type TrayChange struct {
	DevAlias string
	Reason   int32 // 0 open, 1 close
}

// DeviceAlias is the payload of EventIDDeviceRemoved / DeviceAdded /
// DeviceRemovalFailed.
type DeviceAlias struct{ Alias string }

// BlockJob is the payload of EventIDBlockJob (Path is the disk path) and
// EventIDBlockJob2 (Path is the target, e.g. "vda").
type BlockJob struct {
	Path   string
	Type   int32
	Status int32
}

// RTCChange is the payload of EventIDRTCChange.
type RTCChange struct{ Offset int64 }

// Watchdog is the payload of EventIDWatchdog.
type Watchdog struct{ Action int32 }

// IOError is the payload of EventIDIOError and EventIDIOErrorReason.
type IOError struct {
	SrcPath  string
	DevAlias string
	Action   int32
	Reason   string
}

// BalloonChange is the payload of EventIDBalloonChange.
type BalloonChange struct{ Actual uint64 }

// NetworkEvent is a network lifecycle event (VIR_NETWORK_EVENT_*).
type NetworkEvent struct {
	Net    Network
	Event  int32
	Detail int32
}

// Network lifecycle event types.
const (
	NetworkEventDefined   int32 = 0
	NetworkEventUndefined int32 = 1
	NetworkEventStarted   int32 = 2
	NetworkEventStopped   int32 = 3
)

// PoolEvent is a storage pool event; Refresh is true for
// VIR_STORAGE_POOL_EVENT_ID_REFRESH, otherwise a lifecycle event.
type PoolEvent struct {
	Pool    Pool
	Refresh bool
	Event   int32
	Detail  int32
}

// Storage pool lifecycle event types.
const (
	PoolEventDefined   int32 = 0
	PoolEventUndefined int32 = 1
	PoolEventStarted   int32 = 2
	PoolEventStopped   int32 = 3
	PoolEventCreated   int32 = 4
	PoolEventDeleted   int32 = 5
)
