package admin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"govirt/internal/dispatchfuzz"
	"govirt/protocol/adminwire"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
)

// FuzzAdminDispatch sends one ADMIN call per input through a fresh admin
// server (the daemon's "libvirtd" server beside it, with one client to
// find and close), after ADMIN_CONNECT_OPEN. Input: data[0] bit 0
// structured body, bit 1 two calls at once; data[1:3] the procedure (and
// with bit 1 data[3:5] the second's); then the body or the filler's bytes
// (halved between two calls). A recovered handler panic, a call without a reply
// within callTime or a connection not released fails the input.
func FuzzAdminDispatch(f *testing.F) {
	e := &adminFz{tmp: f.TempDir()}
	for n := int32(0); n < 256; n++ {
		if procs.Lookup(procs.ProgramAdmin, n) != nil {
			e.procs = append(e.procs, n)
		}
	}
	for _, n := range e.procs {
		body := []byte{}
		if a := newAdminArgs(n); a != nil {
			dispatchfuzz.NewFiller(nil, adminBounds, adminWords).Fill(a)
			body = dispatchfuzz.Encode(a)
		}
		f.Add(append([]byte{0, byte(n >> 8), byte(n)}, body...))
	}
	// Limits and thread pool changed while clients are listed and closed.
	for _, p := range [][2]int32{{procs.AdminServerSetClientLimits, procs.AdminServerListClients},
		{procs.AdminClientClose, procs.AdminClientGetInfo}, {procs.AdminServerSetThreadpoolParameters, procs.AdminServerGetThreadpoolParameters},
		{procs.AdminConnectSetLoggingFilters, procs.AdminConnectGetLoggingFilters}} {
		f.Add([]byte{3, byte(p[0] >> 8), byte(p[0]), byte(p[1] >> 8), byte(p[1]), 0, 0, 1, 0, 0, 1})
	}
	f.Fuzz(e.fuzz)
}

const callTime = 5 * time.Second

var adminBounds = []int64{adminwire.AdminStringMax, adminwire.AdminServerListMax, adminwire.AdminServerThreadpoolParametersMax,
	adminwire.AdminClientListMax, adminwire.AdminClientInfoParametersMax, adminwire.AdminServerClientLimitsMax}

var adminWords = []string{"libvirtd", "admin", "", "minWorkers", "maxWorkers", "prioWorkers", "nclients_max",
	"nclients_unauth_max", "1:stderr", "1:file:/fz.log", "3:remote 4:event", "x\ny", "..", "/"}

// adminArgTypes are the generated argument types, found by the names
// rpc/procs gives for each procedure.
var adminArgTypes = map[string]reflect.Type{}

func init() {
	for _, v := range []any{adminwire.ConnectOpenArgs{}, adminwire.ConnectListServersArgs{}, adminwire.ConnectLookupServerArgs{},
		adminwire.ServerGetThreadpoolParametersArgs{}, adminwire.ServerSetThreadpoolParametersArgs{}, adminwire.ServerListClientsArgs{},
		adminwire.ServerLookupClientArgs{}, adminwire.ClientGetInfoArgs{}, adminwire.ClientCloseArgs{},
		adminwire.ServerGetClientLimitsArgs{}, adminwire.ServerSetClientLimitsArgs{}, adminwire.ServerUpdateTlsFilesArgs{},
		adminwire.ConnectGetLoggingOutputsArgs{}, adminwire.ConnectGetLoggingFiltersArgs{}, adminwire.ConnectSetLoggingOutputsArgs{},
		adminwire.ConnectSetLoggingFiltersArgs{}, adminwire.ConnectSetDaemonTimeoutArgs{}} {
		adminArgTypes[reflect.TypeOf(v).Name()] = reflect.TypeOf(v)
	}
}

func newAdminArgs(proc int32) any {
	info := procs.Lookup(procs.ProgramAdmin, proc)
	if info == nil || info.Args == "" {
		return nil
	}
	t, ok := adminArgTypes[info.Args]
	if !ok {
		panic("no type for " + info.Args)
	}
	return reflect.New(t).Interface()
}

type adminFz struct {
	tmp   string
	procs []int32
}

// stubHandler answers nothing: the libvirtd server's client only has to exist.
type stubHandler struct{}

func (stubHandler) Call(context.Context, *rpc.Call) {}
func (stubHandler) Closed()                         {}

type notify struct {
	rpc.Handler
	closed chan struct{}
}

func (n notify) Closed() {
	n.Handler.Closed()
	close(n.closed)
}

func (e *adminFz) fuzz(t *testing.T, data []byte) {
	if len(data) < 3 {
		return
	}
	rest := data[3:]
	nums := []uint16{binary.BigEndian.Uint16(data[1:3])}
	if data[0]&2 != 0 && len(rest) >= 2 {
		nums = append(nums, binary.BigEndian.Uint16(rest))
		rest = rest[2:]
	}
	var reqs []dispatchfuzz.Req
	for i, n := range nums {
		proc := int32(n)
		if procs.Lookup(procs.ProgramAdmin, proc) == nil {
			proc = e.procs[int(proc)%len(e.procs)]
		}
		body := rest
		if len(nums) == 2 {
			body = rest[:len(rest)/2]
			if i == 1 {
				body = rest[len(rest)/2:]
			}
		}
		if data[0]&1 != 0 {
			a := newAdminArgs(proc)
			if a == nil {
				return
			}
			dispatchfuzz.NewFiller(body, adminBounds, adminWords).Fill(a)
			body = dispatchfuzz.Encode(a)
		}
		if proc == procs.AdminConnectSetLoggingOutputs {
			// File outputs are opened (created) at once: keep them here.
			var a adminwire.ConnectSetLoggingOutputsArgs
			if xdr.Unmarshal(body, &a) == nil && a.Outputs != nil {
				*a.Outputs = confineOutputs(*a.Outputs, e.tmp)
				body = dispatchfuzz.Encode(&a)
			}
		}
		reqs = append(reqs, dispatchfuzz.Req{Prog: procs.ProgramAdmin, Proc: proc, Body: body})
	}
	e.call(t, reqs)
}

func confineOutputs(spec, dir string) string {
	fs := strings.Fields(spec)
	for i, src := range fs {
		tok := strings.Split(src, ":")
		if len(tok) == 3 && tok[1] == "file" {
			b := filepath.Base(tok[2])
			if b == "." || b == ".." || b == "/" {
				b = "log"
			}
			tok[2] = filepath.Join(dir, b)
			fs[i] = strings.Join(tok, ":")
		}
	}
	return strings.Join(fs, " ")
}

func (e *adminFz) call(t *testing.T, reqs []dispatchfuzz.Req) {
	var panics dispatchfuzz.PanicLog
	lc, err := NewLogControl(slog.LevelError, "", "")
	if err != nil {
		t.Fatal(err)
	}
	lc.errw = io.Discard
	lv := &rpc.Server{Name: "libvirtd", Logf: panics.Logf, NewHandler: func(*rpc.Conn) rpc.Handler { return stubHandler{} }}
	adm := &rpc.Server{Name: "admin", Logf: panics.Logf, Programs: Programs}
	d := &Daemon{Servers: []*rpc.Server{lv, adm}, Log: lc, SetTimeout: func(uint32) error { return nil }, LibVersion: 9000000}
	closed := make(chan struct{})
	adm.NewHandler = func(c *rpc.Conn) rpc.Handler { return notify{d.NewHandler(c), closed} }
	defer lv.Close()
	defer adm.Close()

	va, vb := net.Pipe()
	defer vb.Close()
	lv.ServeConn(va)
	a, b := net.Pipe()
	defer b.Close()
	adm.ServeConn(a)

	var names []string
	closing := false
	for _, r := range reqs {
		names = append(names, fmt.Sprintf("%s (proc %d, body %d bytes)", procs.NameOf(r.Prog, r.Proc), r.Proc, len(r.Body)))
		closing = closing || r.Proc == procs.AdminClientClose
	}
	what := strings.Join(names, " with ")
	c := dispatchfuzz.NewClient(b)
	ob, _ := xdr.Marshal(adminwire.ConnectOpenArgs{})
	if h, rb, err := c.Call(procs.ProgramAdmin, procs.AdminConnectOpen, ob, callTime); err != nil || h.Status != rpc.StatusOK {
		t.Fatalf("ADMIN_CONNECT_OPEN: %v %v", err, rpc.DecodeError(rb))
	}
	_, err = c.CallAll(reqs, callTime)
	switch {
	case errors.Is(err, dispatchfuzz.ErrTimeout):
		t.Fatalf("%s: no reply in %v\n%s", what, callTime, stacks())
	case err != nil && !closing:
		// Only closing a client (this one) may end the connection.
		t.Fatalf("%s: connection dropped: %v", what, err)
	}
	b.Close()
	select {
	case <-closed:
	case <-time.After(callTime):
		t.Fatalf("%s: the server did not release the connection in %v\n%s", what, callTime, stacks())
	}
	if p := panics.Take(); len(p) > 0 {
		t.Fatalf("%s: %s", what, strings.Join(p, "\n"))
	}
}

func stacks() string {
	buf := make([]byte, 4<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
