package remote

import (
	"govirt/rpc/procs"
	"sync"

	"govirt/driver"
	"govirt/events"
	"govirt/uuid"
)

// callback is one registered event callback of a client connection.
type callback struct {
	kind    int // cbDomain, cbNetwork, cbPool, ... (events_legacy.go)
	eventID int32
	filter  *uuid.UUID // only this object's events, when set
	name    *string    // only this named object's events (node devices)
	sub     *events.Subscription
	release func() // gives back what the registration held on (node devices), or nil
}

// close ends the callback's delivery and what it held on.
func (cb *callback) close() {
	cb.sub.Close()
	if cb.release != nil {
		cb.release()
	}
}

const (
	cbDomain = iota
	cbNetwork
	cbPool
)

// callbacks are a connection's registrations, keyed by the id the client
// gets back. Ids are per connection, as in libvirtd.
type callbacks struct {
	mu   sync.Mutex
	next int32
	m    map[int32]*callback
}

// add registers cb under a new id. attach makes its subscription while
// the table is locked, so no concurrent deregister can find the callback
// before it has one; it gets the id, which events must carry.
func (c *callbacks) add(cb *callback, attach func(id int32) *events.Subscription) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int32]*callback{}
	}
	id := c.next
	c.next++
	cb.sub = attach(id)
	c.m[id] = cb
	return id
}

func (c *callbacks) remove(id int32, kind int) (*callback, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cb, ok := c.m[id]
	if !ok || cb.kind != kind {
		return nil, false
	}
	delete(c.m, id)
	return cb, true
}

func (c *callbacks) closeAll() {
	c.mu.Lock()
	all := c.m
	c.m = nil
	c.mu.Unlock()
	for _, cb := range all {
		cb.close()
	}
}

func init() {
	register(true, map[int32]procFunc{
		procs.ConnectDomainEventCallbackRegisterAny:   domainEventRegister,
		procs.ConnectDomainEventCallbackDeregisterAny: deregisterMsg(cbDomain, "domain event callback %d not registered"),
		procs.ConnectNetworkEventRegisterAny:          networkEventRegister,
		procs.ConnectNetworkEventDeregisterAny:        deregisterMsg(cbNetwork, "network event callback %d not registered"),
		procs.ConnectStoragePoolEventRegisterAny:      poolEventRegister,
		procs.ConnectStoragePoolEventDeregisterAny:    deregisterMsg(cbPool, "storage pool event callback %d not registered"),
	})
}

type registerRet struct{ CallbackID int32 }

func domainEventRegister(h *handler, body []byte) (any, error) {
	a, err := args[ConnectDomainEventCallbackRegisterAnyArgs](body)
	if err != nil {
		return nil, err
	}
	if a.EventID < 0 || a.EventID > int32(driver.EventIDMemoryDeviceSizeChange) {
		return nil, errInternal("unsupported event ID %d", a.EventID)
	}
	var filter *uuid.UUID
	if a.Dom != nil {
		u := uuid.UUID(a.Dom.UUID)
		filter = &u
	}
	return h.subscribe(&callback{kind: cbDomain, eventID: a.EventID, filter: filter})
}

func networkEventRegister(h *handler, body []byte) (any, error) {
	a, err := args[ConnectNetworkEventRegisterAnyArgs](body)
	if err != nil {
		return nil, err
	}
	if a.EventID != 0 {
		return nil, errInternal("unsupported network event ID %d", a.EventID)
	}
	var filter *uuid.UUID
	if a.Net != nil {
		u := uuid.UUID(a.Net.UUID)
		filter = &u
	}
	return h.subscribe(&callback{kind: cbNetwork, eventID: a.EventID, filter: filter})
}

func poolEventRegister(h *handler, body []byte) (any, error) {
	a, err := args[ConnectStoragePoolEventRegisterAnyArgs](body)
	if err != nil {
		return nil, err
	}
	if a.EventID != 0 && a.EventID != 1 {
		return nil, errInternal("unsupported storage pool event ID %d", a.EventID)
	}
	var filter *uuid.UUID
	if a.Pool != nil {
		u := uuid.UUID(a.Pool.UUID)
		filter = &u
	}
	return h.subscribe(&callback{kind: cbPool, eventID: a.EventID, filter: filter})
}

func (h *handler) subscribe(cb *callback) (any, error) {
	c := h.conn()
	id := h.cbs.add(cb, func(id int32) *events.Subscription {
		return c.Events().Subscribe(func(ev any) { h.deliver(id, cb, ev) })
	})
	return registerRet{id}, nil
}

// deliver turns a driver event into the wire message of the callback, if
// it matches.
func (h *handler) deliver(id int32, cb *callback, ev any) {
	proc, msg := int32(0), any(nil)
	switch e := ev.(type) {
	case driver.DomainEvent:
		if (cb.kind != cbDomain && cb.kind != cbDomainLegacy) || int32(e.ID) != cb.eventID || (cb.filter != nil && *cb.filter != e.Dom.UUID) {
			return
		}
		proc, msg = domainEventMessage(id, e)
		if cb.kind == cbDomainLegacy {
			proc, msg = legacyDomainEvent(msg)
		}
	case driver.NetworkEvent:
		if cb.kind != cbNetwork || (cb.filter != nil && *cb.filter != e.Net.UUID) {
			return
		}
		proc, msg = procs.NetworkEventLifecycle, NetworkEventLifecycleMsg{CallbackID: id, Net: wireNet(e.Net), Event: e.Event, Detail: e.Detail}
	case driver.NodeDeviceEvent:
		if cb.kind != cbNodeDevice || (cb.name != nil && *cb.name != e.Name) || e.Update != (cb.eventID == 1) {
			return
		}
		if e.Update {
			proc, msg = procs.NodeDeviceEventUpdate, NodeDeviceEventUpdateMsg{CallbackID: id, Dev: wireNodeDev(e.Name)}
		} else {
			proc, msg = procs.NodeDeviceEventLifecycle, NodeDeviceEventLifecycleMsg{CallbackID: id, Dev: wireNodeDev(e.Name), Event: e.Event, Detail: e.Detail}
		}
	case driver.SecretEvent:
		if cb.kind != cbSecret || (cb.filter != nil && *cb.filter != e.Secret.UUID) || e.ValueChanged != (cb.eventID == 1) {
			return
		}
		if e.ValueChanged {
			proc, msg = procs.SecretEventValueChanged, SecretEventValueChangedMsg{CallbackID: id, Secret: wireSecret(e.Secret)}
		} else {
			proc, msg = procs.SecretEventLifecycle, SecretEventLifecycleMsg{CallbackID: id, Secret: wireSecret(e.Secret), Event: e.Event, Detail: e.Detail}
		}
	case driver.PoolEvent:
		if cb.kind != cbPool || (cb.filter != nil && *cb.filter != e.Pool.UUID) {
			return
		}
		if e.Refresh != (cb.eventID == 1) {
			return
		}
		if e.Refresh {
			proc, msg = procs.StoragePoolEventRefresh, StoragePoolEventRefreshMsg{CallbackID: id, Pool: wirePool(e.Pool)}
		} else {
			proc, msg = procs.StoragePoolEventLifecycle, StoragePoolEventLifecycleMsg{CallbackID: id, Pool: wirePool(e.Pool), Event: e.Event, Detail: e.Detail}
		}
	}
	if msg == nil || h.peer == nil || !h.eventVisible(ev) {
		return
	}
	_ = h.peer.SendEvent(ProgRemote, proc, msg)
}

// domainEventMessage builds the callback-style message for a domain event.
func domainEventMessage(id int32, e driver.DomainEvent) (int32, any) {
	dom := wireDom(e.Dom)
	switch e.ID {
	case driver.EventIDLifecycle:
		return procs.DomainEventCallbackLifecycle, DomainEventCallbackLifecycleMsg{CallbackID: id,
			Msg: DomainEventLifecycleMsg{Dom: dom, Event: e.Event, Detail: e.Detail}}
	case driver.EventIDReboot:
		return procs.DomainEventCallbackReboot, DomainEventCallbackRebootMsg{CallbackID: id, Msg: DomainEventRebootMsg{Dom: dom}}
	case driver.EventIDRTCChange:
		p, _ := e.Payload.(driver.RTCChange)
		return procs.DomainEventCallbackRtcChange, DomainEventCallbackRtcChangeMsg{CallbackID: id, Msg: DomainEventRtcChangeMsg{Dom: dom, Offset: p.Offset}}
	case driver.EventIDWatchdog:
		p, _ := e.Payload.(driver.Watchdog)
		return procs.DomainEventCallbackWatchdog, DomainEventCallbackWatchdogMsg{CallbackID: id, Msg: DomainEventWatchdogMsg{Dom: dom, Action: p.Action}}
	case driver.EventIDIOError:
		p, _ := e.Payload.(driver.IOError)
		return procs.DomainEventCallbackIOError, DomainEventCallbackIOErrorMsg{CallbackID: id,
			Msg: DomainEventIOErrorMsg{Dom: dom, SrcPath: p.SrcPath, DevAlias: p.DevAlias, Action: p.Action}}
	case driver.EventIDIOErrorReason:
		p, _ := e.Payload.(driver.IOError)
		return procs.DomainEventCallbackIOErrorReason, DomainEventCallbackIOErrorReasonMsg{CallbackID: id,
			Msg: DomainEventIOErrorReasonMsg{Dom: dom, SrcPath: p.SrcPath, DevAlias: p.DevAlias, Action: p.Action, Reason: p.Reason}}
	case driver.EventIDControlError:
		return procs.DomainEventCallbackControlError, DomainEventCallbackControlErrorMsg{CallbackID: id, Msg: DomainEventControlErrorMsg{Dom: dom}}
	case driver.EventIDBlockJob:
		p, _ := e.Payload.(driver.BlockJob)
		return procs.DomainEventCallbackBlockJob, DomainEventCallbackBlockJobMsg{CallbackID: id,
			Msg: DomainEventBlockJobMsg{Dom: dom, Path: p.Path, Type: p.Type, Status: p.Status}}
	case driver.EventIDBlockJob2:
		p, _ := e.Payload.(driver.BlockJob)
		return procs.DomainEventBlockJob2, DomainEventBlockJob2Msg{CallbackID: id, Dom: dom, Dst: p.Path, Type: p.Type, Status: p.Status}
	case driver.EventIDTrayChange:
		p, _ := e.Payload.(driver.TrayChange)
		return procs.DomainEventCallbackTrayChange, DomainEventCallbackTrayChangeMsg{CallbackID: id,
			Msg: DomainEventTrayChangeMsg{Dom: dom, DevAlias: p.DevAlias, Reason: p.Reason}}
	case driver.EventIDBalloonChange:
		p, _ := e.Payload.(driver.BalloonChange)
		return procs.DomainEventCallbackBalloonChange, DomainEventCallbackBalloonChangeMsg{CallbackID: id,
			Msg: DomainEventBalloonChangeMsg{Dom: dom, Actual: p.Actual}}
	case driver.EventIDDeviceRemoved:
		p, _ := e.Payload.(driver.DeviceAlias)
		return procs.DomainEventCallbackDeviceRemoved, DomainEventCallbackDeviceRemovedMsg{CallbackID: id,
			Msg: DomainEventDeviceRemovedMsg{Dom: dom, DevAlias: p.Alias}}
	case driver.EventIDDeviceAdded:
		p, _ := e.Payload.(driver.DeviceAlias)
		return procs.DomainEventCallbackDeviceAdded, DomainEventCallbackDeviceAddedMsg{CallbackID: id, Dom: dom, DevAlias: p.Alias}
	case driver.EventIDMetadataChange:
		p, _ := e.Payload.(driver.MetadataChange)
		var uri *string
		if p.URI != "" {
			uri = &p.URI
		}
		return procs.DomainEventCallbackMetadataChange, DomainEventCallbackMetadataChangeMsg{CallbackID: id, Dom: dom, Type: p.Type, Nsuri: uri}
	case driver.EventIDTunable:
		p, _ := e.Payload.([]driver.TypedParam)
		return procs.DomainEventCallbackTunable, DomainEventCallbackTunableMsg{CallbackID: id, Dom: dom, Params: paramsToWire(p, 1<<2)}
	case driver.EventIDAgentLifecycle:
		p, _ := e.Payload.(driver.AgentLifecycle)
		return procs.DomainEventCallbackAgentLifecycle, DomainEventCallbackAgentLifecycleMsg{CallbackID: id, Dom: dom, State: p.State, Reason: p.Reason}
	case driver.EventIDBlockThreshold:
		p, _ := e.Payload.(driver.BlockThreshold)
		var path *string
		if p.Path != "" {
			path = &p.Path
		}
		return procs.DomainEventBlockThreshold, DomainEventBlockThresholdMsg{CallbackID: id, Dom: dom, Dev: p.Dev, Path: path,
			Threshold: p.Threshold, Excess: p.Excess}
	case driver.EventIDMigrationIteration:
		p, _ := e.Payload.(driver.MigrationIteration)
		return procs.DomainEventCallbackMigrationIteration, DomainEventCallbackMigrationIterationMsg{CallbackID: id, Dom: dom, Iteration: p.Iteration}
	case driver.EventIDDeviceRemovalFailed:
		p, _ := e.Payload.(driver.DeviceAlias)
		return procs.DomainEventCallbackDeviceRemovalFailed, DomainEventCallbackDeviceRemovalFailedMsg{CallbackID: id, Dom: dom, DevAlias: p.Alias}
	}
	return 0, nil
}
