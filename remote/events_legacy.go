package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
	"govirt/virerr"
)

// The event registrations of clients that predate callback ids
// (CONNECT_DOMAIN_EVENT_REGISTER, _REGISTER_ANY and their deregistrations)
// and of node devices and secrets (their events come from the drivers
// that have them: driver.NodeDeviceEvent, driver.SecretEvent). Errors
// are libvirt's daemon's, word for word, including the secret
// deregistration's "node device" message.

const (
	cbNodeDevice = iota + cbPool + 1
	cbSecret
	cbDomainLegacy
)

// legacyMaxEventID is VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED: libvirt serves
// later events only to callback-style registrations.
const legacyMaxEventID = 15

func init() {
	register(true, map[int32]procFunc{
		procs.ConnectNodeDeviceEventRegisterAny: func(h *handler, body []byte) (any, error) {
			a, err := args[ConnectNodeDeviceEventRegisterAnyArgs](body)
			if err != nil {
				return nil, err
			}
			if a.EventID >= 2 || a.EventID < 0 {
				return nil, errInternal("unsupported node device event ID %d", a.EventID)
			}
			cb := &callback{kind: cbNodeDevice, eventID: a.EventID}
			if a.Dev != nil {
				cb.name = &a.Dev.Name
			}
			// The driver watches the host's devices only while some
			// registration wants their events.
			if src, ok := h.conn().(driver.NodeDeviceEventSource); ok {
				cb.release = src.HoldNodeDeviceEvents()
			}
			return h.subscribe(cb)
		},
		procs.ConnectNodeDeviceEventDeregisterAny: deregisterMsg(cbNodeDevice, "node device event callback %d not registered"),
		procs.ConnectSecretEventRegisterAny: func(h *handler, body []byte) (any, error) {
			a, err := args[ConnectSecretEventRegisterAnyArgs](body)
			if err != nil {
				return nil, err
			}
			if a.EventID >= 2 || a.EventID < 0 {
				return nil, errInternal("unsupported secret event ID %d", a.EventID)
			}
			if err := noDriverOnTest(h); err != nil {
				return nil, err
			}
			cb := &callback{kind: cbSecret, eventID: a.EventID}
			if a.Secret != nil {
				u := uuid.UUID(a.Secret.UUID)
				cb.filter = &u
			}
			return h.subscribe(cb)
		},
		procs.ConnectSecretEventDeregisterAny: deregisterMsg(cbSecret, "node device event callback %d not registered"),

		procs.ConnectDomainEventRegister: func(h *handler, _ []byte) (any, error) {
			if _, err := h.subscribe(&callback{kind: cbDomainLegacy, eventID: int32(driver.EventIDLifecycle)}); err != nil {
				return nil, err
			}
			return ConnectDomainEventRegisterRet{}, nil
		},
		procs.ConnectDomainEventDeregister: func(h *handler, _ []byte) (any, error) {
			if err := h.removeLegacy(int32(driver.EventIDLifecycle)); err != nil {
				return nil, err
			}
			return ConnectDomainEventDeregisterRet{}, nil
		},
		procs.ConnectDomainEventRegisterAny: func(h *handler, body []byte) (any, error) {
			a, err := args[ConnectDomainEventRegisterAnyArgs](body)
			if err != nil {
				return nil, err
			}
			if a.EventID > legacyMaxEventID || a.EventID < 0 {
				return nil, errInternal("unsupported event ID %d", a.EventID)
			}
			_, err = h.subscribe(&callback{kind: cbDomainLegacy, eventID: a.EventID})
			return nil, err
		},
		procs.ConnectDomainEventDeregisterAny: func(h *handler, body []byte) (any, error) {
			a, err := args[ConnectDomainEventDeregisterAnyArgs](body)
			if err != nil {
				return nil, err
			}
			if a.EventID > legacyMaxEventID || a.EventID < 0 {
				return nil, errInternal("unsupported event ID %d", a.EventID)
			}
			return nil, h.removeLegacy(a.EventID)
		},
	})
}

func errInternal(format string, a ...any) error {
	return virerr.New(virerr.FromRPC, virerr.ErrInternalError, format, a...)
}

// deregisterMsg is deregister with the daemon's message for the kind.
func deregisterMsg(kind int, msg string) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[registerRet](body)
		if err != nil {
			return nil, err
		}
		cb, ok := h.cbs.remove(a.CallbackID, kind)
		if !ok {
			return nil, errInternal(msg, a.CallbackID)
		}
		cb.close()
		return nil, nil
	}
}

// removeLegacy drops the connection's legacy domain callback for eventID.
func (h *handler) removeLegacy(eventID int32) error {
	c := &h.cbs
	c.mu.Lock()
	var found *callback
	for id, cb := range c.m {
		if cb.kind == cbDomainLegacy && cb.eventID == eventID {
			found = cb
			delete(c.m, id)
			break
		}
	}
	c.mu.Unlock()
	if found == nil {
		return errInternal("domain event %d not registered", eventID)
	}
	found.sub.Close()
	return nil
}

// legacyDomainEvent turns a callback-style domain event message into the
// message older clients registered for: the same body without the
// callback id, under the old procedure number.
func legacyDomainEvent(msg any) (int32, any) {
	switch m := msg.(type) {
	case DomainEventCallbackLifecycleMsg:
		return procs.DomainEventLifecycle, m.Msg
	case DomainEventCallbackRebootMsg:
		return procs.DomainEventReboot, m.Msg
	case DomainEventCallbackRtcChangeMsg:
		return procs.DomainEventRtcChange, m.Msg
	case DomainEventCallbackWatchdogMsg:
		return procs.DomainEventWatchdog, m.Msg
	case DomainEventCallbackIOErrorMsg:
		return procs.DomainEventIOError, m.Msg
	case DomainEventCallbackIOErrorReasonMsg:
		return procs.DomainEventIOErrorReason, m.Msg
	case DomainEventCallbackControlErrorMsg:
		return procs.DomainEventControlError, m.Msg
	case DomainEventCallbackBlockJobMsg:
		return procs.DomainEventBlockJob, m.Msg
	case DomainEventCallbackTrayChangeMsg:
		return procs.DomainEventTrayChange, m.Msg
	case DomainEventCallbackBalloonChangeMsg:
		return procs.DomainEventBalloonChange, m.Msg
	case DomainEventCallbackDeviceRemovedMsg:
		return procs.DomainEventDeviceRemoved, m.Msg
	}
	return 0, nil
}
