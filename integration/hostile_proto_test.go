package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
	"govirt/virerr"
)

// vncDomXML is a test-driver guest whose VNC password only
// VIR_DOMAIN_XML_SECURE may reveal.
const vncDomXML = `<domain type='test'><name>sec</name><memory>65536</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><graphics type='vnc' port='-1' autoport='yes' passwd='s3cret'/></devices></domain>`

// TestReadOnlySecureXML: issue 10 defect 3. On the read-only socket
// `dumpxml --security-info` (and --migratable, libvirt's other guarded
// flag) is refused with libvirt's error, while plain dumpxml works and the
// read-write socket still shows the password.
func TestReadOnlySecureXML(t *testing.T) {
	d := startDaemon(t)
	path := filepath.Join(t.TempDir(), "sec.xml")
	if err := os.WriteFile(path, []byte(vncDomXML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustVirsh(t, d.URI("test"), "define "+path+"; dumpxml --security-info sec"); !strings.Contains(out, "s3cret") {
		t.Fatalf("read-write dumpxml --security-info lacks the password:\n%s", out)
	}
	// test:///default lives as long as a connection holds it (as in
	// libvirt): keep one open while virsh comes and goes.
	rw, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if err := rw.Call(context.Background(), procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: vncDomXML}, nil); err != nil {
		t.Fatal(err)
	}
	roSock := "test+unix:///default?socket=" + d.SockRO
	for _, uri := range []string{roSock, d.URI("test")} {
		for _, flag := range []string{"--security-info", "--migratable"} {
			out, errOut, rc := virsh(t, uri, "-r", "dumpxml", flag, "sec")
			if rc == 0 || strings.Contains(out, "s3cret") ||
				!strings.Contains(errOut, "error: operation forbidden: virDomainGetXMLDesc with secure flag") {
				t.Errorf("%s dumpxml %s: rc=%d stdout=%q stderr=%q", uri, flag, rc, out, errOut)
			}
		}
		out, errOut, rc := virsh(t, uri, "-r", "dumpxml", "sec")
		if rc != 0 || !strings.Contains(out, "<graphics type='vnc'") || strings.Contains(out, "s3cret") {
			t.Errorf("%s plain dumpxml: rc=%d stdout=%q stderr=%q", uri, rc, out, errOut)
		}
	}

	// The other XML getters libvirt guards the same way, through the
	// client library on the read-only socket.
	c := dialRO(t, d)
	var dom remote.DomainLookupByNameRet
	if err := c.Call(context.Background(), procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: "sec"}, &dom); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		proc int32
		args any
		msg  string
		dom  virerr.Domain
	}{
		{procs.DomainSnapshotGetXMLDesc, remote.DomainSnapshotGetXMLDescArgs{Snap: remote.NonnullDomainSnapshot{Name: "s", Dom: dom.Dom}, Flags: 1},
			"operation forbidden: virDomainSnapshotGetXMLDesc with secure flag", virerr.FromDomainSnapshot},
		{procs.DomainCheckpointGetXMLDesc, remote.DomainCheckpointGetXMLDescArgs{Checkpoint: remote.NonnullDomainCheckpoint{Name: "c", Dom: dom.Dom}, Flags: 1},
			"operation forbidden: virDomainCheckpointGetXMLDesc with secure flag", virerr.FromDomainCheckpoint},
		{procs.DomainManagedSaveGetXMLDesc, remote.DomainManagedSaveGetXMLDescArgs{Dom: dom.Dom, Flags: 1},
			"operation forbidden: virDomainManagedSaveGetXMLDesc with secure flag", virerr.FromDomain},
		{procs.DomainGetVcpusFlags, remote.DomainGetVcpusFlagsArgs{Dom: dom.Dom, Flags: 8},
			"operation forbidden: read only access prevents virDomainGetVcpusFlags", virerr.FromDomain},
		{procs.DomainInterfaceAddresses, remote.DomainInterfaceAddressesArgs{Dom: dom.Dom, Source: 1},
			"operation forbidden: read only access prevents virDomainInterfaceAddresses", virerr.FromDomain},
	} {
		err := c.Call(context.Background(), tc.proc, tc.args, nil)
		var ve *virerr.Error
		if !errors.As(err, &ve) || ve.Code != virerr.ErrOperationDenied || ve.Message != tc.msg || ve.Domain != tc.dom {
			t.Errorf("%s: got %#v, want %q", procs.Name(tc.proc), err, tc.msg)
		}
	}
	// Without the guarded flag the read-only caller gets its answer.
	var n remote.DomainGetVcpusFlagsRet
	if err := c.Call(context.Background(), procs.DomainGetVcpusFlags, remote.DomainGetVcpusFlagsArgs{Dom: dom.Dom, Flags: 0}, &n); err != nil {
		t.Errorf("vcpucount without --guest: %v", err)
	}
}

func dialRO(t *testing.T, d *daemon) *client.Client {
	t.Helper()
	c, err := client.DialOptions(context.Background(), "test+unix:///default?socket="+d.SockRO, client.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// daemonRSS is govirtd's resident set in bytes.
func daemonRSS(t *testing.T, d *daemon) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestReadOnlyVcpusMaplen: issue 10 defect 4. DOMAIN_GET_VCPUS with maplen
// 2^28 from a read-only client is refused with libvirt's error before
// anything is sized from it, so the daemon's RSS does not grow.
func TestReadOnlyVcpusMaplen(t *testing.T) {
	d := startDaemon(t)
	c := dialRO(t, d)
	ctx := context.Background()
	var dom remote.DomainLookupByNameRet
	if err := c.Call(ctx, procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: "test"}, &dom); err != nil {
		t.Fatal(err)
	}
	before := daemonRSS(t, d)
	for i := 0; i < 50; i++ {
		for _, tc := range []struct {
			args remote.DomainGetVcpusArgs
			msg  string
		}{
			{remote.DomainGetVcpusArgs{Dom: dom.Dom, Maxinfo: 1, Maplen: 1 << 28}, "internal error: maxinfo * maplen > REMOTE_CPUMAPS_MAX"},
			{remote.DomainGetVcpusArgs{Dom: dom.Dom, Maxinfo: 1 << 28, Maplen: 1}, "internal error: maxinfo > REMOTE_VCPUINFO_MAX"},
			{remote.DomainGetVcpusArgs{Dom: dom.Dom, Maxinfo: 1, Maplen: -1 << 31}, "invalid argument: maplen in virDomainGetVcpus must be zero or greater"},
		} {
			err := c.Call(ctx, procs.DomainGetVcpus, tc.args, nil)
			var ve *virerr.Error
			if !errors.As(err, &ve) || ve.Message != tc.msg {
				t.Fatalf("GET_VCPUS %+v: got %v, want %q", tc.args, err, tc.msg)
			}
		}
	}
	if grown := daemonRSS(t, d) - before; grown > 50<<20 {
		t.Errorf("RSS grew by %d MB", grown>>20)
	}
	// A sane request still works.
	var r remote.DomainGetVcpusRet
	if err := c.Call(ctx, procs.DomainGetVcpus, remote.DomainGetVcpusArgs{Dom: dom.Dom, Maxinfo: 2, Maplen: 1}, &r); err != nil {
		t.Errorf("GET_VCPUS with sane counts: %v", err)
	}
	if strings.Contains(d.Log(), "panic") {
		t.Errorf("daemon log shows a panic:\n%s", d.Log())
	}
}

// TestNegativeCounts: issue 10 defect 9. Negative counts to the procedures
// that used to panic (38, 57, 198, 206, 223) get libvirt errors, on both
// sockets, and the connection keeps serving.
func TestNegativeCounts(t *testing.T) {
	d := startDaemon(t)
	ctx := context.Background()
	rw, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	for _, c := range []*client.Client{rw, dialRO(t, d)} {
		var dom remote.DomainLookupByNameRet
		if err := c.Call(ctx, procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: "test"}, &dom); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			proc int32
			args any
			api  string
			arg  string
		}{
			{procs.ConnectListNetworks, remote.ConnectListNetworksArgs{Maxnames: -1}, "virConnectListNetworks", "maxnames"},
			{procs.DomainGetSchedulerParameters, remote.DomainGetSchedulerParametersArgs{Dom: dom.Dom, Nparams: -1}, "virDomainGetSchedulerParameters", "nparams"},
			{procs.DomainGetMemoryParameters, remote.DomainGetMemoryParametersArgs{Dom: dom.Dom, Nparams: -3}, "virDomainGetMemoryParameters", "nparams"},
			{procs.DomainGetBlkioParameters, remote.DomainGetBlkioParametersArgs{Dom: dom.Dom, Nparams: -1 << 31}, "virDomainGetBlkioParameters", "nparams"},
			{procs.DomainGetSchedulerParametersFlags, remote.DomainGetSchedulerParametersFlagsArgs{Dom: dom.Dom, Nparams: -7}, "virDomainGetSchedulerParametersFlags", "nparams"},
		} {
			if procs.Lookup(procs.ProgramRemote, tc.proc).API != tc.api {
				t.Fatalf("proc %d is not %s", tc.proc, tc.api)
			}
			err := c.Call(ctx, tc.proc, tc.args, nil)
			var ve *virerr.Error
			want := "invalid argument: " + tc.arg + " in " + tc.api + " must be zero or greater"
			if !errors.As(err, &ve) || ve.Code != virerr.ErrInvalidArg || ve.Message != want {
				t.Errorf("proc %d: got %#v, want %q", tc.proc, err, want)
			}
		}
		var n remote.ConnectListNetworksRet
		if err := c.Call(ctx, procs.ConnectListNetworks, remote.ConnectListNetworksArgs{Maxnames: 10}, &n); err != nil {
			t.Errorf("list networks after the refusals: %v", err)
		}
	}
	if strings.Contains(d.Log(), "panic") {
		t.Errorf("daemon log shows a panic:\n%s", d.Log())
	}
}

// TestOversizedArgsArray: an args array one over its .x bound is refused
// at decode with libvirt's error; so is a count far beyond the bytes sent.
func TestOversizedArgsArray(t *testing.T) {
	d := startDaemon(t)
	c, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var dom remote.DomainLookupByNameRet
	if err := c.Call(ctx, procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: "test"}, &dom); err != nil {
		t.Fatal(err)
	}
	// The reflection codec sends what the generated one refuses to encode.
	type unbounded struct {
		Dom    remote.NonnullDomain
		Params []xdr.TypedParam
		Flags  uint32
	}
	params := make([]xdr.TypedParam, remote.RemoteDomainSchedulerParametersMax+1)
	for i := range params {
		params[i] = xdr.TypedParam{Field: "cpu_shares", Value: uint64(1024)}
	}
	err = c.Call(ctx, procs.DomainSetSchedulerParametersFlags, unbounded{Dom: dom.Dom, Params: params}, nil)
	var ve *virerr.Error
	if !errors.As(err, &ve) || ve.Code != virerr.ErrRPC || ve.Message != "Unable to decode message payload" {
		t.Errorf("17 scheduler parameters: got %#v", err)
	}
	// ConnectListAllDomains' reply bound is the generated encoder's too:
	// a list of ids claiming 2^30 entries in a few bytes.
	type hugeCount struct {
		Count uint32
	}
	err = c.Call(ctx, procs.DomainSetSchedulerParameters, struct {
		Dom remote.NonnullDomain
		N   hugeCount
	}{dom.Dom, hugeCount{1 << 30}}, nil)
	if !errors.As(err, &ve) || ve.Code != virerr.ErrRPC || ve.Message != "Unable to decode message payload" {
		t.Errorf("count 2^30: got %#v", err)
	}
	var r remote.NodeGetInfoRet
	if err := c.Call(ctx, procs.NodeGetInfo, nil, &r); err != nil {
		t.Errorf("connection unusable after the refusals: %v", err)
	}
}
