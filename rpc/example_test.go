package rpc_test

import (
	"context"
	"net"

	"govirt/rpc"
	"govirt/rpc/procs"
)

type dispatcher struct{ conn *rpc.Conn }

func (d *dispatcher) Call(ctx context.Context, c *rpc.Call) {
	if c.Prog != rpc.ProgramRemote {
		c.ReplyUnknownProc()
		return
	}
	switch c.Proc {
	case procs.ConnectSupportsFeature:
		var args struct{ Feature int32 }
		if err := c.Decode(&args); err != nil {
			c.ReplyError(err)
			return
		}
		if args.Feature == rpc.FeatureProgramKeepalive {
			d.conn.EnableKeepalive(0, 0) // libvirt defaults: 5s, 5 pings
		}
		c.Reply(&struct{ Supported int32 }{1})
	case procs.StorageVolDownload:
		st := c.NewStream() // bind before replying
		c.Reply(nil)
		st.Write([]byte("volume contents"))
		st.Close() // EOF; the client's finish is confirmed automatically
	default:
		c.ReplyUnknownProc()
	}
}

func (d *dispatcher) Closed() {}

func Example() {
	ln, err := net.Listen("unix", "/tmp/govirt-example-sock")
	if err != nil {
		return
	}
	srv := rpc.NewServer(func(c *rpc.Conn) rpc.Handler { return &dispatcher{conn: c} })
	go srv.Serve(ln)
	srv.Close() // e.g. on SIGTERM
}
