package remote

import (
	"errors"
	"reflect"
	"testing"

	"govirt/rpc/procs"
	"govirt/rpc/xdr"
	"govirt/virerr"
)

// mirror returns a struct type with v's fields but no XDR methods, so the
// reflection codec encodes it without the generated bounds; tests use it
// to build what a hostile client would send.
func mirror(t reflect.Type) reflect.Type {
	var fs []reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fs = append(fs, reflect.StructField{Name: f.Name, Type: f.Type})
	}
	return reflect.StructOf(fs)
}

// TestOversizedArgsArrays: for every procedure whose arguments hold a
// variable-length array, a body with one element more than the .x bound
// is refused by the generated decoder, and one with a count far beyond the
// remaining input is refused without allocating for it.
func TestOversizedArgsArrays(t *testing.T) {
	n := 0
	for _, prog := range []uint32{procs.ProgramRemote, procs.ProgramQemu, procs.ProgramLxc} {
		for proc := int32(0); proc < 1000; proc++ {
			a := newArgs(prog, proc)
			if a == nil {
				continue
			}
			typ := reflect.TypeOf(a).Elem()
			bounds := arrayBounds[typ.Name()]
			for field, max := range bounds {
				n++
				m := reflect.New(mirror(typ)).Elem()
				f := m.FieldByName(field)
				f.Set(bigSlice(f.Type(), int(max)+1))
				body, err := xdr.Marshal(m.Interface())
				if err != nil {
					t.Fatalf("%s: encoding the mirror: %v", typ.Name(), err)
				}
				if err := xdr.Unmarshal(body, newArgs(prog, proc)); !errors.Is(err, xdr.ErrTooLong) {
					t.Errorf("%s.%s with %d elements: %v, want ErrTooLong", typ.Name(), field, max+1, err)
				}
				// The generated encoder refuses the same value.
				v := reflect.New(typ).Elem()
				v.FieldByName(field).Set(bigSlice(f.Type(), int(max)+1))
				if _, err := xdr.Marshal(v.Interface()); !errors.Is(err, xdr.ErrTooLong) {
					t.Errorf("%s.%s: encoding %d elements: %v, want ErrTooLong", typ.Name(), field, max+1, err)
				}
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d array arguments checked", n)
	}
}

// bigSlice makes n encodable elements (a typed parameter needs a value).
func bigSlice(t reflect.Type, n int) reflect.Value {
	s := reflect.MakeSlice(t, n, n)
	if t.Elem() == reflect.TypeFor[TypedParam]() {
		for i := 0; i < n; i++ {
			s.Index(i).Set(reflect.ValueOf(TypedParam{Value: int32(0)}))
		}
	}
	return s
}

// TestCountBeyondInput: a count within the bound but beyond what the body
// holds fails as truncated data, before any slice is made for it.
func TestCountBeyondInput(t *testing.T) {
	e := xdr.NewEncoder(nil)
	_ = NonnullDomain{Name: "d"}.MarshalXDR(e)
	e.Uint32(16) // params: at the bound, but nothing follows
	var a DomainSetSchedulerParametersArgs
	allocs := testing.AllocsPerRun(10, func() {
		if err := xdr.Unmarshal(e.Bytes(), &a); !errors.Is(err, xdr.ErrShort) {
			t.Fatalf("got %v, want ErrShort", err)
		}
	})
	if allocs > 2 {
		t.Errorf("%v allocations for a refused count", allocs)
	}
}

// TestGeneratedMatchesReflection: the generated codec produces the same
// bytes as the reflection codec on the same layout, and decodes them back.
func TestGeneratedMatchesReflection(t *testing.T) {
	label := "x"
	vals := []any{
		&DomainGetXMLDescArgs{Dom: NonnullDomain{Name: "a", UUID: [16]byte{1, 2}, ID: 3}, Flags: 9},
		&DomainGetInfoRet{State: 1, MaxMem: 2, Memory: 3, NrVirtCpu: 4, CpuTime: 5},
		&ConnectListAllDomainsRet{Domains: []NonnullDomain{{Name: "a"}, {Name: "bcdef", ID: -1}}, Ret: 2},
		&DomainSetSchedulerParametersFlagsArgs{Params: []TypedParam{{Field: "cpu_shares", Value: uint64(7)}, {Field: "s", Value: "v"}}, Flags: 1},
		&ConnectOpenArgs{Name: &label, Flags: 1},
		&DomainGetSecurityLabelRet{Label: []int32{'a', 'b'}, Enforcing: 1},
		&QemuConnectDomainMonitorEventRegisterArgs{Dom: &NonnullDomain{Name: "q"}, Event: &label},
	}
	for _, v := range vals {
		typ := reflect.TypeOf(v).Elem()
		m := reflect.New(mirror(typ)).Elem()
		for i := 0; i < typ.NumField(); i++ {
			m.Field(i).Set(reflect.ValueOf(v).Elem().Field(i))
		}
		want, err := xdr.Marshal(m.Interface())
		if err != nil {
			t.Fatal(err)
		}
		got, err := xdr.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: generated %x, reflection %x", typ.Name(), got, want)
		}
		back := reflect.New(typ)
		if err := xdr.Unmarshal(got, back.Interface()); err != nil {
			t.Fatalf("%s: %v", typ.Name(), err)
		}
		if !reflect.DeepEqual(back.Interface(), v) {
			t.Errorf("%s: round trip gave %+v, want %+v", typ.Name(), back.Interface(), v)
		}
	}
}

// TestCountChecks: count arguments are refused before a handler runs, with
// libvirt's codes and messages, negative ones included.
func TestCountChecks(t *testing.T) {
	cases := []struct {
		proc int32
		args any
		code virerr.Code
		msg  string
	}{
		{procs.ConnectListNetworks, ConnectListNetworksArgs{Maxnames: -1}, virerr.ErrInvalidArg,
			"invalid argument: maxnames in virConnectListNetworks must be zero or greater"},
		{procs.ConnectListNetworks, ConnectListNetworksArgs{Maxnames: RemoteNetworkListMax + 1}, virerr.ErrRPC,
			"maxnames > REMOTE_NETWORK_LIST_MAX"},
		{procs.ConnectListDomains, ConnectListDomainsArgs{Maxids: RemoteDomainListMax + 1}, virerr.ErrRPC,
			"maxids > REMOTE_DOMAIN_LIST_MAX"},
		{procs.DomainGetSchedulerParameters, DomainGetSchedulerParametersArgs{Nparams: -5}, virerr.ErrInvalidArg,
			"invalid argument: nparams in virDomainGetSchedulerParameters must be zero or greater"},
		{procs.DomainGetMemoryParameters, DomainGetMemoryParametersArgs{Nparams: 1 << 30}, virerr.ErrInternalError,
			"internal error: nparams too large"},
		{procs.DomainGetBlkioParameters, DomainGetBlkioParametersArgs{Nparams: -1}, virerr.ErrInvalidArg,
			"invalid argument: nparams in virDomainGetBlkioParameters must be zero or greater"},
		{procs.DomainGetSchedulerParametersFlags, DomainGetSchedulerParametersFlagsArgs{Nparams: -1 << 31}, virerr.ErrInvalidArg,
			"invalid argument: nparams in virDomainGetSchedulerParametersFlags must be zero or greater"},
		{procs.DomainGetVcpus, DomainGetVcpusArgs{Maxinfo: 1, Maplen: 1 << 28}, virerr.ErrInternalError,
			"internal error: maxinfo * maplen > REMOTE_CPUMAPS_MAX"},
		{procs.DomainGetVcpus, DomainGetVcpusArgs{Maxinfo: RemoteVcpuinfoMax + 1}, virerr.ErrInternalError,
			"internal error: maxinfo > REMOTE_VCPUINFO_MAX"},
		{procs.DomainGetVcpus, DomainGetVcpusArgs{Maxinfo: 1, Maplen: -1}, virerr.ErrInvalidArg,
			"invalid argument: maplen in virDomainGetVcpus must be zero or greater"},
		{procs.DomainGetVcpuPinInfo, DomainGetVcpuPinInfoArgs{Ncpumaps: 1 << 20, Maplen: 1 << 20}, virerr.ErrInternalError,
			"internal error: ncpumaps > REMOTE_VCPUINFO_MAX"},
		{procs.NodeGetCellsFreeMemory, NodeGetCellsFreeMemoryArgs{Maxcells: -1}, virerr.ErrInvalidArg,
			"invalid argument: maxcells in virNodeGetCellsFreeMemory must be zero or greater"},
		{procs.DomainGetDiskErrors, DomainGetDiskErrorsArgs{Maxerrors: 1 << 31}, virerr.ErrInternalError,
			"internal error: maxerrors too large"},
		{procs.DomainMemoryPeek, DomainMemoryPeekArgs{Size: 1 << 31}, virerr.ErrInternalError,
			"internal error: size > maximum buffer size"},
	}
	for _, c := range cases {
		body, err := xdr.Marshal(c.args)
		if err != nil {
			t.Fatal(err)
		}
		// args() runs the checks whatever the handler; decode through it
		// with the generated type.
		err = decodeChecked(c.proc, body)
		var ve *virerr.Error
		if !errors.As(err, &ve) || ve.Code != c.code || ve.Message != c.msg {
			t.Errorf("%s %+v: got %v, want %d %q", procs.Name(c.proc), c.args, err, c.code, c.msg)
		}
	}
}

// decodeChecked decodes body as proc's arguments the way args() does.
func decodeChecked(proc int32, body []byte) error {
	a := newArgs(procs.ProgramRemote, proc)
	if err := xdr.Unmarshal(body, a); err != nil {
		return errDecode
	}
	if c, ok := a.(countChecker); ok {
		return c.checkCounts()
	}
	return nil
}

// TestInlineKeepsCachedCalls: the calls govirt answered on the reader
// goroutine before the table was generated still are, and calls that
// change state or wait on a process are not.
func TestInlineKeepsCachedCalls(t *testing.T) {
	h := &handler{session: &session{}}
	for _, p := range []int32{procs.AuthList, procs.ConnectSupportsFeature, procs.ConnectGetLibVersion,
		procs.ConnectGetType, procs.ConnectGetVersion, procs.ConnectGetURI, procs.ConnectGetMaxVcpus,
		procs.NodeGetInfo, procs.ConnectIsSecure, procs.ConnectListAllDomains, procs.ConnectNumOfDomains,
		procs.ConnectListDomains, procs.ConnectNumOfDefinedDomains, procs.ConnectListDefinedDomains,
		procs.DomainLookupByName, procs.DomainLookupByUUID, procs.DomainLookupByID, procs.DomainGetInfo,
		procs.DomainGetState, procs.DomainGetXMLDesc, procs.DomainGetOSType, procs.DomainGetMaxMemory,
		procs.DomainGetAutostart, procs.DomainIsActive, procs.DomainIsPersistent, procs.DomainIsUpdated,
		procs.DomainGetSecurityLabel, procs.NodeGetSecurityModel, procs.ConnectListAllNetworks,
		procs.NetworkLookupByName, procs.NetworkLookupByUUID, procs.NetworkGetXMLDesc, procs.NetworkIsActive,
		procs.NetworkIsPersistent, procs.NetworkGetAutostart, procs.NetworkGetBridgeName,
		procs.ConnectListAllStoragePools, procs.StoragePoolLookupByName, procs.StoragePoolLookupByUUID,
		procs.StoragePoolGetInfo, procs.StoragePoolIsActive, procs.StoragePoolIsPersistent,
		procs.StoragePoolGetAutostart, procs.StoragePoolListAllVolumes, procs.StorageVolLookupByName} {
		if !h.Inline(ProgRemote, p) {
			t.Errorf("%s is no longer inline", procs.Name(p))
		}
	}
	for _, p := range []int32{procs.ConnectOpen, procs.DomainDestroy, procs.DomainDefineXML, procs.DomainCreate,
		procs.NetworkCreateXMLFlags, procs.DomainGetVcpus, procs.ConnectGetSysinfo} {
		if h.Inline(ProgRemote, p) {
			t.Errorf("%s runs on the reader goroutine", procs.Name(p))
		}
	}
	if h.Inline(ProgQEMU, procs.QemuDomainMonitorCommand) {
		t.Error("QEMU monitor command inline")
	}
}

func TestListBound(t *testing.T) {
	if err := listBound(make([]NonnullDomain, RemoteDomainListMax)); err != nil {
		t.Fatal(err)
	}
	err := listBound(make([]NonnullStoragePool, RemoteStoragePoolListMax+1))
	var ve *virerr.Error
	if !errors.As(err, &ve) || ve.Message != "internal error: Too many storage_pools '16385' for limit '16384'" {
		t.Fatalf("got %v", err)
	}
}
