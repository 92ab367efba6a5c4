package remote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"govirt/driver"
	"govirt/internal/dispatchfuzz"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
	"govirt/uuid"
)

// The dispatcher fuzz targets (FuzzDispatch, FuzzDispatchQEMU) send one
// or two calls per input through the whole server path (rpc.Server,
// framing, remote's handler, a driver) on a fresh connection opened
// read-write or read-only. Input layout:
//
//	data[0]    bits 0-1 access (0, 3 read-write; 1 VIR_CONNECT_RO; 2 read-only socket),
//	           bit 2 structured body, bits 3-4 program (REMOTE, REMOTE, QEMU, LXC),
//	           bit 5 two calls sent at once (they run concurrently)
//	data[1:3]  procedure number (a number the program lacks picks one of its procedures)
//	data[3:5]  with bit 5, the second call's procedure
//	then       the body itself, or the bytes the structured filler draws from;
//	           with two calls, the first half is the first call's
//
// A recovered handler panic, a call without a reply within callTime, a
// connection not released after it closes, or a read-only connection
// allowed a call libvirt refuses it fails the input. FZDEBUG=1 prints
// every reply (go test -v).

const (
	fzRW       = 0
	fzROFlag   = 1
	fzROSocket = 2
	fzStruct   = 4
	fzPair     = 0x20
	callTime   = 5 * time.Second
)

var fzPrograms = []uint32{procs.ProgramRemote, procs.ProgramRemote, procs.ProgramQemu, procs.ProgramLxc}

// fzBounds are the .x bounds the filler tries (MAX-1, MAX, MAX+1).
var fzBounds = []int64{RemoteStringMax, RemoteDomainListMax, RemoteCpumapMax, RemoteCpumapsMax,
	RemoteMigrateCookieMax, RemoteNodeDeviceListMax, RemoteDomainSchedulerParametersMax,
	RemoteDomainBlockIOTuneParametersMax, RemoteDomainPerfEventsMax, RemoteNodeMaxCells,
	RemoteAuthTypeListMax, RemoteDomainMemoryStatsMax, RemoteSecurityLabelMax, RemoteSecretValueMax,
	RemoteCPUBaselineMax, RemoteDomainGetCPUStatsNcpusMax, RemoteDomainGetCPUStatsMax,
	RemoteConnectCPUModelsMax, RemoteConnectGetAllDomainStatsMax, RemoteDomainGuestInfoParamsMax,
	RemoteDomainSendKeyMax, RemoteVcpuinfoMax, RemoteDomainDiskErrorsMax}

var fzWords = []string{"test", "default", "default-pool", "eth1", "", "..", ".", "/", "a/b",
	"../../../../fz-escape", "x\ny", "test:///default", "vda", "hda", "file", "s1", "fz",
	"<domain type='test'><name>fz</name><memory>1024</memory><os><type>hvm</type></os></domain>",
	"<network><name>fz</name><bridge name='fzbr1'/></network>",
	"<pool type='dir'><name>fz</name><target><path>/fz-pool</path></target></pool>",
	"<volume><name>fz.img</name><capacity>1024</capacity></volume>",
	"<domainsnapshot><name>s1</name></domainsnapshot>",
	"<disk type='file' device='disk'><source file='/fz.img'/><target dev='vdb'/></disk>",
	"6695eb01-f6a4-8304-79aa-97f2502e193f", "<", "<a><b><c/></b></a>"}

// fzUUIDs are test:///default's domain, network and pool.
var fzUUIDs = [][]byte{uuidBytes("6695eb01-f6a4-8304-79aa-97f2502e193f"),
	uuidBytes("dd8fe884-6c02-601e-7551-cca97df1c5df"), uuidBytes("dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566")}

func uuidBytes(s string) []byte {
	u := mustUUID(s)
	return u[:]
}

// fzEnv is one server shared by the iterations of a fuzz worker.
type fzEnv struct {
	uri    string
	tmp    string
	rw, ro *rpc.Server
	closed chan chan struct{}
	panics dispatchfuzz.PanicLog
	// procs lists each program's procedures.
	procs map[uint32][]int32
	// rwAllowed, if set, says whether a procedure may run read-write.
	rwAllowed func(prog uint32, proc int32) bool
	// rwBody, if set, says whether a body may be sent read-write.
	rwBody func(body []byte) bool
	// base serves the connections; cur is the one serving this iteration's.
	base, cur *Server
	// freshRW, if set, gives read-write iterations that change state
	// drivers of their own (nil: none needed): the QEMU driver's state
	// outlives connections, and an input must behave the same whatever ran
	// before it.
	freshRW func(t *testing.T, reqs []dispatchfuzz.Req) *Server
}

// notifyHandler tells the iteration when the server is done with its
// connection (every call returned, driver connection closed).
type notifyHandler struct {
	*handler
	closed chan struct{}
}

func (n notifyHandler) Closed() {
	n.handler.Closed()
	close(n.closed)
}

func newFzEnv(f *testing.F, uri string, drivers ...driver.Driver) *fzEnv {
	e := &fzEnv{uri: uri, tmp: f.TempDir(), closed: make(chan chan struct{}, 1), procs: map[uint32][]int32{}}
	e.base = NewServer(slog.New(slog.DiscardHandler), drivers...)
	mk := func(readOnly bool) *rpc.Server {
		rs := rpc.NewServer(func(c *rpc.Conn) rpc.Handler {
			ch := make(chan struct{})
			e.closed <- ch
			return notifyHandler{e.cur.NewHandler(readOnly)(c).(*handler), ch}
		})
		rs.Logf = e.panics.Logf
		return rs
	}
	e.rw, e.ro = mk(false), mk(true)
	f.Cleanup(func() { e.rw.Close(); e.ro.Close() })
	for _, p := range fzPrograms {
		if len(e.procs[p]) > 0 {
			continue
		}
		for n := int32(0); n < 1<<12; n++ {
			if procs.Lookup(p, n) != nil {
				e.procs[p] = append(e.procs[p], n)
			}
		}
	}
	return e
}

// seeds adds one valid encoded args value per procedure: read-write
// where allowed (it reaches the driver), else read-only, and read-only
// through the socket for every fourth procedure libvirt lets read-only
// connections call. The fuzzer varies the access from there.
func (e *fzEnv) seeds(f *testing.F) {
	for i, p := range fzPrograms[1:] {
		for _, n := range e.procs[p] {
			body := []byte{}
			if a := newArgs(p, n); a != nil {
				dispatchfuzz.NewFiller(nil, fzBounds, fzWords).Fill(a)
				plausible(reflect.ValueOf(a).Elem())
				body = dispatchfuzz.Encode(a)
			}
			access := byte(fzRW)
			switch {
			case e.rwAllowed != nil && !e.rwAllowed(p, n):
				access = fzROFlag
			case n%4 == 0 && len(procs.Lookup(p, n).ReadOnly) == 0:
				access = fzROSocket
			}
			f.Add(append([]byte{access | byte(i+1)<<3, byte(n >> 8), byte(n)}, body...))
		}
	}
}

// pairSeeds are calls that raced into handler panics before (issue 10):
// a guest undefined or destroyed while another call uses it.
var pairSeeds = [][2]int32{
	{procs.DomainCreate, procs.DomainUndefine}, {procs.DomainGetXMLDesc, procs.DomainUndefine},
	{procs.DomainGetInfo, procs.DomainUndefine}, {procs.DomainGetInfo, procs.DomainDestroy},
	{procs.DomainDestroy, procs.DomainCreate}, {procs.DomainUndefine, procs.DomainDefineXML},
	{procs.DomainSnapshotCreateXML, procs.DomainUndefineFlags}, {procs.DomainGetXMLDesc, procs.DomainDefineXML},
}

// addPairSeeds adds each pair, read-write, on the structured path (whose
// empty filler input names the test domain by name and UUID).
func (e *fzEnv) addPairSeeds(f *testing.F) {
	for _, p := range pairSeeds {
		f.Add([]byte{fzRW | fzStruct | fzPair | 1<<3, byte(p[0] >> 8), byte(p[0]), byte(p[1] >> 8), byte(p[1])})
	}
}

// plausible names objects that exist in test:///default, so the seeds
// reach the drivers rather than stop at a lookup.
func plausible(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			plausible(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := 0; i < v.Len(); i++ {
				plausible(v.Index(i))
			}
		}
	case reflect.Struct:
		switch x := v.Addr().Interface().(type) {
		case *NonnullDomain:
			x.Name, x.UUID, x.ID = "test", mustUUID("6695eb01-f6a4-8304-79aa-97f2502e193f"), 1
			return
		case *NonnullNetwork:
			x.Name, x.UUID = "default", mustUUID("dd8fe884-6c02-601e-7551-cca97df1c5df")
			return
		case *NonnullStoragePool:
			x.Name, x.UUID = "default-pool", mustUUID("dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566")
			return
		case *NonnullInterface:
			x.Name, x.MAC = "eth1", "aa:bb:cc:dd:ee:ff"
			return
		}
		for i := 0; i < v.NumField(); i++ {
			switch v.Type().Field(i).Name {
			case "XML", "XMLDesc":
				v.Field(i).SetString(plausibleXML(v.Type().Name()))
			default:
				plausible(v.Field(i))
			}
		}
	}
}

// plausibleXML is a document of the kind an args type carries.
func plausibleXML(args string) string {
	switch {
	case strings.Contains(args, "Snapshot"):
		return "<domainsnapshot><name>s1</name></domainsnapshot>"
	case strings.Contains(args, "Checkpoint"):
		return "<domaincheckpoint><name>c1</name></domaincheckpoint>"
	case strings.Contains(args, "Device"):
		return "<interface type='network'><source network='default'/></interface>"
	case strings.Contains(args, "NetworkPort"):
		return "<networkport><owner name='test' uuid='6695eb01-f6a4-8304-79aa-97f2502e193f'/></networkport>"
	case strings.Contains(args, "Network"):
		return "<network><name>fz</name><bridge name='fzbr1'/></network>"
	case strings.Contains(args, "StorageVol"):
		return "<volume><name>fz.img</name><capacity>1024</capacity></volume>"
	case strings.Contains(args, "StoragePool"):
		return "<pool type='dir'><name>fz</name><target><path>fz-pool</path></target></pool>"
	}
	return "<domain type='test'><name>fz</name><memory>1024</memory><os><type>hvm</type></os></domain>"
}

func mustUUID(s string) [16]byte {
	u, err := uuid.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func (e *fzEnv) fuzz(t *testing.T, data []byte) {
	if len(data) < 3 {
		return
	}
	mode := data[0]
	prog := fzPrograms[mode>>3&3]
	access := mode & 3
	if access == 3 {
		access = fzRW
	}
	rest := data[3:]
	nums := []uint16{binary.BigEndian.Uint16(data[1:3])}
	if mode&fzPair != 0 && len(rest) >= 2 {
		nums = append(nums, binary.BigEndian.Uint16(rest))
		rest = rest[2:]
	}
	var reqs []dispatchfuzz.Req
	for i, n := range nums {
		proc := int32(n)
		if procs.Lookup(prog, proc) == nil {
			list := e.procs[prog]
			proc = list[int(proc)%len(list)]
		}
		if access == fzRW && e.rwAllowed != nil && !e.rwAllowed(prog, proc) {
			access = fzROFlag
		}
		// With two calls, each has half of the bytes.
		part := rest
		if len(nums) == 2 {
			part = rest[:len(rest)/2]
			if i == 1 {
				part = rest[len(rest)/2:]
			}
		}
		body, ok := e.body(prog, proc, mode&fzStruct != 0, part)
		if !ok {
			return
		}
		reqs = append(reqs, dispatchfuzz.Req{Prog: prog, Proc: proc, Body: body})
	}
	if access == fzRW && e.rwBody != nil {
		for _, r := range reqs {
			if !e.rwBody(r.Body) {
				access = fzROFlag
			}
		}
	}
	// Read-only too: a read-only leak must not write where it likes.
	for i, r := range reqs {
		reqs[i].Body = e.confine(r.Prog, r.Proc, r.Body)
	}
	e.call(t, access, reqs)
}

// body is the call's body: the bytes themselves, or a value of the
// procedure's argument type filled from them.
func (e *fzEnv) body(prog uint32, proc int32, structured bool, data []byte) ([]byte, bool) {
	if !structured {
		return data, true
	}
	a := newArgs(prog, proc)
	if a == nil {
		return nil, false
	}
	fl := dispatchfuzz.NewFiller(data, fzBounds, fzWords)
	fl.Fixed = fzUUIDs
	fl.Fill(a)
	return dispatchfuzz.Encode(a), true
}

// confine keeps the files that procedures taking host paths write or read
// inside the fuzzer's directory. What does not decode is refused by the
// server's own decoder before any file is touched.
func (e *fzEnv) confine(prog uint32, proc int32, body []byte) []byte {
	if !pathProcs[procKey{prog, proc}] {
		return body
	}
	a := newArgs(prog, proc)
	if err := xdr.Unmarshal(body, a); err != nil {
		return body
	}
	confinePaths(reflect.ValueOf(a).Elem(), e.tmp)
	return dispatchfuzz.Encode(a)
}

type procKey struct {
	prog uint32
	proc int32
}

// pathProcs take host paths: save images, core dumps.
var pathProcs = map[procKey]bool{
	{procs.ProgramRemote, procs.DomainSave}: true, {procs.ProgramRemote, procs.DomainSaveFlags}: true,
	{procs.ProgramRemote, procs.DomainSaveParams}: true, {procs.ProgramRemote, procs.DomainRestore}: true,
	{procs.ProgramRemote, procs.DomainRestoreFlags}: true, {procs.ProgramRemote, procs.DomainRestoreParams}: true,
	{procs.ProgramRemote, procs.DomainSaveImageGetXMLDesc}: true, {procs.ProgramRemote, procs.DomainSaveImageDefineXML}: true,
	{procs.ProgramRemote, procs.DomainCoreDump}: true, {procs.ProgramRemote, procs.DomainCoreDumpWithFormat}: true,
}

// confinePaths rewrites the path arguments (To, From, File, a "file"
// typed parameter) to names inside dir.
func confinePaths(v reflect.Value, dir string) {
	inside := func(s string) string {
		b := filepath.Base(s)
		if b == "." || b == ".." || b == "/" {
			b = "img"
		}
		return filepath.Join(dir, b)
	}
	for i := 0; i < v.NumField(); i++ {
		fv := v.Field(i)
		switch name := v.Type().Field(i).Name; {
		case (name == "To" || name == "From" || name == "File") && fv.Kind() == reflect.String:
			fv.SetString(inside(fv.String()))
		case fv.Type() == reflect.TypeOf([]TypedParam(nil)):
			for j := 0; j < fv.Len(); j++ {
				p := fv.Index(j).Addr().Interface().(*TypedParam)
				if s, ok := p.Value.(string); ok {
					p.Value = inside(s)
				}
			}
		}
	}
}

// call opens a connection, then makes the fuzzed calls on it, at once.
func (e *fzEnv) call(t *testing.T, access byte, reqs []dispatchfuzz.Req) {
	a, b := net.Pipe()
	defer b.Close()
	rs := e.rw
	if access == fzROSocket {
		rs = e.ro
	}
	e.cur = e.base
	if access == fzRW && e.freshRW != nil {
		if s := e.freshRW(t, reqs); s != nil {
			e.cur = s
		}
	}
	rs.ServeConn(a)
	var closed chan struct{}
	select {
	case closed = <-e.closed:
	case <-time.After(callTime):
		t.Fatal("no handler for the connection")
	}
	var names []string
	for _, r := range reqs {
		names = append(names, fmt.Sprintf("%s (prog %#x proc %d, body %d bytes)", procs.NameOf(r.Prog, r.Proc), r.Prog, r.Proc, len(r.Body)))
	}
	what := strings.Join(names, " with ") + fmt.Sprintf(", access %d", access)
	c := dispatchfuzz.NewClient(b)
	open := ConnectOpenArgs{Name: &e.uri}
	if access == fzROFlag {
		open.Flags = 1 // VIR_CONNECT_RO
	}
	ob, _ := xdr.Marshal(open)
	if h, rb, err := c.Call(procs.ProgramRemote, procs.ConnectOpen, ob, callTime); err != nil || h.Status != rpc.StatusOK {
		t.Fatalf("CONNECT_OPEN %s: %v %v", e.uri, err, rpc.DecodeError(rb))
	}
	replies, err := c.CallAll(reqs, callTime)
	switch {
	case errors.Is(err, dispatchfuzz.ErrTimeout):
		t.Fatalf("%s: no reply in %v\n%s", what, callTime, stacks())
	case err != nil:
		t.Fatalf("%s: connection dropped: %v", what, err)
	}
	if access != fzRW {
		for i, r := range replies {
			if r.Header.Status == rpc.StatusOK && roRefused(reqs[i]) {
				t.Fatalf("%s: read-only connection allowed %s", what, names[i])
			}
		}
	}
	if os.Getenv("FZDEBUG") != "" {
		for i, r := range replies {
			if r.Header.Status == rpc.StatusError {
				fmt.Println(names[i], access, rpc.DecodeError(r.Body))
			} else {
				fmt.Println(names[i], access, "OK")
			}
		}
	}
	b.Close()
	select {
	case <-closed:
	case <-time.After(callTime):
		t.Fatalf("%s: the server did not release the connection in %v\n%s", what, callTime, stacks())
	}
	if p := e.panics.Take(); len(p) > 0 {
		t.Fatalf("%s: %s", what, strings.Join(p, "\n"))
	}
}

// roRefused reports whether libvirt refuses the call on a read-only
// connection, by the procedure's generated read-only rules.
func roRefused(r dispatchfuzz.Req) bool {
	info := procs.Lookup(r.Prog, r.Proc)
	if info == nil || len(info.ReadOnly) == 0 {
		return false
	}
	var args reflect.Value
	if a := newArgs(r.Prog, r.Proc); a != nil {
		if xdr.Unmarshal(r.Body, a) != nil {
			return false
		}
		args = reflect.ValueOf(a).Elem()
	}
	for _, rule := range info.ReadOnly {
		if rule.Kind == procs.ROAlways {
			return true
		}
		if !args.IsValid() {
			continue
		}
		f := args.FieldByName(rule.Arg)
		if !f.IsValid() {
			continue
		}
		var v uint32
		if f.CanInt() {
			v = uint32(f.Int())
		} else {
			v = uint32(f.Uint())
		}
		switch rule.Kind {
		case procs.ROFlags, procs.ROSecure:
			if v&rule.Value != 0 {
				return true
			}
		case procs.ROEquals:
			if v == rule.Value {
				return true
			}
		}
	}
	return false
}

// stacks shows where a hang is.
func stacks() string {
	buf := make([]byte, 4<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// The fuzzers' unbounded encoder writes what the generated encoders write
// for every value within the bounds, so the server reads what the filler
// made.
func TestFuzzEncodeMatchesGenerated(t *testing.T) {
	inputs := [][]byte{nil, {0x81, 3, 'a', 'b', 'c', 1, 0xfc, 7, 1}, []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\xfa\x0b\xff\x10")}
	n := 0
	for _, p := range fzPrograms[1:] {
		for proc := int32(0); proc < 1<<12; proc++ {
			for _, in := range inputs {
				a := newArgs(p, proc)
				if a == nil {
					continue
				}
				fl := dispatchfuzz.NewFiller(in, fzBounds, fzWords)
				fl.Budget = 1 << 16
				fl.Fill(a)
				want, err := xdr.Marshal(a)
				if err != nil {
					continue
				}
				if got := dispatchfuzz.Encode(a); !bytes.Equal(got, want) {
					t.Fatalf("%s: unbounded encoding differs:\n%x\n%x", procs.NameOf(p, proc), got, want)
				}
				n++
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d values compared", n)
	}
}
