package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// TestManyClients runs 64 concurrent clients, each making 1,000 mixed
// calls, and expects no error at all.
func TestManyClients(t *testing.T) {
	d := startDaemon(t)
	const clients, calls = 64, 1000
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := client.Dial(d.URI("test"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := mixedCalls(ctx, c, i, calls); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func mixedCalls(ctx context.Context, c *client.Client, i, n int) error {
	var dom remote.DomainLookupByNameRet
	if err := c.Call(ctx, procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: "test"}, &dom); err != nil {
		return err
	}
	name := fmt.Sprintf("rob%d", i)
	xml := fmt.Sprintf("<domain type='test'><name>%s</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>", name)
	for k := 0; k < n; k++ {
		var err error
		switch k % 8 {
		case 0:
			var r remote.DomainGetInfoRet
			err = c.Call(ctx, procs.DomainGetInfo, remote.DomainGetInfoArgs{Dom: dom.Dom}, &r)
		case 1:
			var r remote.ConnectListAllDomainsRet
			err = c.Call(ctx, procs.ConnectListAllDomains, remote.ConnectListAllDomainsArgs{NeedResults: 1, Flags: 0}, &r)
		case 2:
			var r remote.DomainGetXMLDescRet
			err = c.Call(ctx, procs.DomainGetXMLDesc, remote.DomainGetXMLDescArgs{Dom: dom.Dom}, &r)
		case 3:
			var r remote.DomainDefineXMLRet
			err = c.Call(ctx, procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: xml}, &r)
		case 4:
			var r remote.DomainLookupByNameRet
			if err = c.Call(ctx, procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: name}, &r); err == nil {
				err = c.Call(ctx, procs.DomainUndefine, remote.DomainUndefineArgs{Dom: r.Dom}, nil)
			}
		case 5:
			var r remote.ConnectListAllNetworksRet
			err = c.Call(ctx, procs.ConnectListAllNetworks, remote.ConnectListAllNetworksArgs{NeedResults: 1}, &r)
		case 6:
			var r remote.DomainGetStateRet
			err = c.Call(ctx, procs.DomainGetState, remote.DomainGetStateArgs{Dom: dom.Dom}, &r)
		case 7:
			var r remote.NodeGetInfoRet
			err = c.Call(ctx, procs.NodeGetInfo, nil, &r)
		}
		if err != nil {
			return fmt.Errorf("call %d: %w", k, err)
		}
	}
	return nil
}

// TestMalformedFrames sends broken frames on raw connections and checks
// that each gets an error or a closed connection while a well-behaved
// client keeps being served.
func TestMalformedFrames(t *testing.T) {
	d := startDaemon(t)
	good, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	header := func(prog uint32, proc int32, typ int32, serial uint32) []byte {
		b := make([]byte, 24)
		binary.BigEndian.PutUint32(b[0:], prog)
		binary.BigEndian.PutUint32(b[4:], 1)
		binary.BigEndian.PutUint32(b[8:], uint32(proc))
		binary.BigEndian.PutUint32(b[12:], uint32(typ))
		binary.BigEndian.PutUint32(b[16:], serial)
		return b
	}
	frame := func(body []byte) []byte {
		b := make([]byte, 4, 4+len(body))
		binary.BigEndian.PutUint32(b, uint32(4+len(body)))
		return append(b, body...)
	}
	cases := map[string][]byte{
		"oversized length":     {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		"length below header":  frame([]byte{1, 2, 3}),
		"truncated XDR":        frame(append(header(0x20008086, procs.DomainLookupByName, 0, 1), 0, 0, 0, 9, 'a')),
		"unknown program":      frame(header(0x12345678, 1, 0, 1)),
		"unknown procedure":    frame(header(0x20008086, 9999, 0, 1)),
		"bad pointer marker":   frame(append(header(0x20008086, procs.ConnectOpen, 0, 1), 0, 0, 0, 7, 0, 0, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0)),
		"unknown message type": frame(header(0x20008086, 1, 42, 1)),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("unix", d.Socket)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(data); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			n, err := nc.Read(buf)
			// Either a reply (an error reply for calls) or EOF: never a hang.
			if err != nil && n == 0 {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("daemon neither answered nor closed")
				}
			} else if n >= 28 {
				if status := binary.BigEndian.Uint32(buf[24:28]); status != 1 {
					t.Errorf("reply status %d, want error", status)
				}
			}
			var r remote.NodeGetInfoRet
			if err := good.Call(context.Background(), procs.NodeGetInfo, nil, &r); err != nil {
				t.Fatalf("well-behaved client failed after %s: %v", name, err)
			}
		})
	}
}

// TestUnknownProcedure checks the exact error that makes clients fall
// back to older calls.
func TestUnknownProcedure(t *testing.T) {
	d := startDaemon(t)
	c, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Call(context.Background(), 9999, nil, nil)
	var ve *virerr.Error
	if !errors.As(err, &ve) || ve.Code != virerr.ErrRPC || ve.Domain != virerr.FromRPC || ve.Message != "unknown procedure: 9999" {
		t.Fatalf("got %#v, want VIR_ERR_RPC/VIR_FROM_RPC \"unknown procedure: 9999\"", err)
	}
	if !client.IsNotSupported(err) {
		t.Errorf("client does not treat it as not supported")
	}
}
