package remote

import (
	"regexp"
	"strings"

	"govirt/driver"
	"govirt/rpc"
	"govirt/uuid"
	"govirt/virerr"
)

// The QEMU program (qemu_protocol.x, libvirt-qemu.so): monitor passthrough
// and raw monitor events. Its calls and events travel on the same
// connection as the REMOTE program's, with their own program number.
const (
	qemuProcMonitorCommand          int32 = 1
	qemuProcAttach                  int32 = 2
	qemuProcAgentCommand            int32 = 3
	qemuProcMonitorEventRegister    int32 = 4
	qemuProcMonitorEventDeregister  int32 = 5
	qemuProcMonitorEvent            int32 = 6
	qemuProcMonitorCommandWithFiles int32 = 7
)

// qemuAPIs names each procedure's public API, for the read-only and
// not-supported errors. Every one of them refuses read-only connections
// (virCheckReadOnlyGoto in libvirt-qemu.c), the event ones included.
var qemuAPIs = map[int32]string{
	qemuProcMonitorCommand:          "virDomainQemuMonitorCommand",
	qemuProcAttach:                  "virDomainQemuAttach",
	qemuProcAgentCommand:            "virDomainQemuAgentCommand",
	qemuProcMonitorEventRegister:    "virConnectDomainQemuMonitorEventRegister",
	qemuProcMonitorEventDeregister:  "virConnectDomainQemuMonitorEventDeregister",
	qemuProcMonitorCommandWithFiles: "virDomainQemuMonitorCommandWithFiles",
}

var qemuTable = map[int32]procFunc{
	qemuProcMonitorCommand:         qemuMonitorCommand,
	qemuProcMonitorEventRegister:   qemuMonitorEventRegister,
	qemuProcMonitorEventDeregister: qemuMonitorEventDeregister,
}

// qemuCall runs one call of the QEMU program.
func (h *handler) qemuCall(c *rpc.Call) {
	api, known := qemuAPIs[c.Proc]
	if !known {
		_ = c.ReplyUnknownProc()
		return
	}
	if h.conn() == nil {
		_ = c.ReplyError(errNotOpen)
		return
	}
	if h.isReadOnly() {
		_ = c.ReplyError(virerr.New(virerr.FromNone, virerr.ErrOperationDenied, "read only access prevents %s", api))
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

type qemuMonitorCommandArgs struct {
	Dom   NonnullDomain
	Cmd   string
	Flags uint32
}

func qemuMonitorCommand(h *handler, body []byte) (any, error) {
	a, err := args[qemuMonitorCommandArgs](body)
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

type qemuMonitorEventRegisterArgs struct {
	Dom   *NonnullDomain
	Event *string
	Flags uint32
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
	a, err := args[qemuMonitorEventRegisterArgs](body)
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
	id := h.cbs.add(cb)
	cb.sub = c.Events().Subscribe(func(ev any) {
		e, ok := ev.(driver.QemuMonitorEvent)
		if !ok || (filter != nil && *filter != e.Dom.UUID) || !match(e.Event) || h.peer == nil {
			return
		}
		_ = h.peer.SendEvent(ProgQEMU, qemuProcMonitorEvent, qemuMonitorEventMsg{
			CallbackID: id, Dom: wireDom(e.Dom), Event: e.Event,
			Seconds: e.Seconds, Micros: e.Micros, Details: e.Details,
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

// qemuMonitorEventMsg is qemu_domain_monitor_event_msg.
type qemuMonitorEventMsg struct {
	CallbackID int32
	Dom        NonnullDomain
	Event      string
	Seconds    int64
	Micros     uint32
	Details    *string
}
