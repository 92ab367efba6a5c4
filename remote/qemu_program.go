package remote

import (
	"regexp"
	"strings"

	"govirt/driver"
	"govirt/events"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/uuid"
	"govirt/virerr"
)

// The QEMU program (qemu_protocol.x, libvirt-qemu.so): monitor passthrough
// and raw monitor events. Its calls and events travel on the same
// connection as the REMOTE program's, with their own program number. Its
// procedures, their public API names and read-only rules (every call but
// the event refuses read-only connections) come from the generated tables.
var qemuTable = map[int32]procFunc{
	procs.QemuDomainMonitorCommand:                qemuMonitorCommand,
	procs.QemuConnectDomainMonitorEventRegister:   qemuMonitorEventRegister,
	procs.QemuConnectDomainMonitorEventDeregister: qemuMonitorEventDeregister,
}

// qemuCall runs one call of the QEMU program.
func (h *handler) qemuCall(c *rpc.Call) {
	info := procs.Lookup(ProgQEMU, c.Proc)
	if info == nil || info.Msg != "" {
		_ = c.ReplyUnknownProc()
		return
	}
	api := info.API
	if h.conn() == nil {
		_ = c.ReplyError(errNotOpen)
		return
	}
	if err := h.readOnlyDenied(ProgQEMU, c.Proc, c.Body); err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	fn := qemuTable[c.Proc]
	if fn == nil {
		_ = c.ReplyError(virerr.New(virerr.FromNone, virerr.ErrNoSupport, "%s", api))
		return
	}
	ret, err := fn(h, c.Body)
	if err == errNoSupport {
		err = virerr.New(virerr.FromNone, virerr.ErrNoSupport, "%s", api)
	}
	if err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	_ = c.Reply(ret)
}

func qemuMonitorCommand(h *handler, body []byte) (any, error) {
	a, err := args[QemuDomainMonitorCommandArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.QemuMonitor](h)
	if err != nil {
		return nil, err
	}
	out, err := d.QemuMonitorCommand(drvDom(a.Dom), a.Cmd, a.Flags)
	if err != nil {
		return nil, err
	}
	return stringRet{out}, nil
}

// Register flags (virConnectDomainQemuMonitorEventRegisterFlags).
const (
	qemuEventRegex  = 1 << 0
	qemuEventNoCase = 1 << 1
)

// cbQemuMonitor is the callback kind of monitor event registrations; they
// share the connection's callback ids with the REMOTE program's, as they
// share libvirt's event state.
const cbQemuMonitor = 100

func qemuMonitorEventRegister(h *handler, body []byte) (any, error) {
	a, err := args[QemuConnectDomainMonitorEventRegisterArgs](body)
	if err != nil {
		return nil, err
	}
	if a.Flags&^(qemuEventRegex|qemuEventNoCase) != 0 {
		return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg,
			"unsupported flags (0x%x) in function virDomainQemuMonitorEventStateRegisterID", a.Flags&^(qemuEventRegex|qemuEventNoCase))
	}
	match, err := qemuEventMatcher(a.Event, a.Flags)
	if err != nil {
		return nil, err
	}
	var filter *uuid.UUID
	if a.Dom != nil {
		u := uuid.UUID(a.Dom.UUID)
		filter = &u
	}
	c := h.conn()
	cb := &callback{kind: cbQemuMonitor, filter: filter}
	id := h.cbs.add(cb, func(id int32) *events.Subscription {
		return c.Events().Subscribe(func(ev any) {
			e, ok := ev.(driver.QemuMonitorEvent)
			if !ok || (filter != nil && *filter != e.Dom.UUID) || !match(e.Event) || h.peer == nil || !h.eventVisible(e) {
				return
			}
			_ = h.peer.SendEvent(ProgQEMU, procs.QemuDomainMonitorEvent, QemuDomainMonitorEventMsg{
				CallbackID: id, Dom: wireDom(e.Dom), Event: e.Event,
				Seconds: e.Seconds, Micros: e.Micros, Details: e.Details,
			})
		})
	})
	return registerRet{id}, nil
}

// qemuEventMatcher is libvirt's event filter: exact name (or
// case-insensitive), or an unanchored regular expression.
func qemuEventMatcher(event *string, flags uint32) (func(string) bool, error) {
	if event == nil {
		return func(string) bool { return true }, nil
	}
	name := *event
	switch {
	case flags&qemuEventRegex != 0:
		expr := name
		if flags&qemuEventNoCase != 0 {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "failed to compile regex '%s': %v", name, err)
		}
		return re.MatchString, nil
	case flags&qemuEventNoCase != 0:
		return func(s string) bool { return strings.EqualFold(s, name) }, nil
	}
	return func(s string) bool { return s == name }, nil
}

func qemuMonitorEventDeregister(h *handler, body []byte) (any, error) {
	a, err := args[registerRet](body)
	if err != nil {
		return nil, err
	}
	cb, ok := h.cbs.remove(a.CallbackID, cbQemuMonitor)
	if !ok {
		return nil, virerr.New(virerr.FromRPC, virerr.ErrInternalError, "qemu monitor event callback %d not registered", a.CallbackID)
	}
	cb.sub.Close()
	return nil, nil
}
