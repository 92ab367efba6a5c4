package remote

import (
	"io"

	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// opened is a stream procedure whose driver work is done and succeeded:
// the reply to send and what then runs on the stream.
type opened struct {
	ret any
	// serve pumps the stream; its error goes to the client on the stream.
	serve func(st *rpc.Stream) error
	// release undoes the open when the reply cannot be sent.
	release func()
}

// openStreamFunc runs the part of a stream procedure that libvirtd runs
// before replying. Console and screenshot differ from uploads in that:
// a busy console or a failed screendump is the call's error, and the
// screenshot's reply carries the MIME type.
type openStreamFunc func(h *handler, body []byte) (opened, error)

var openStreamProcs = map[int32]openStreamFunc{
	procs.DomainOpenConsole: openConsole,
	procs.DomainScreenshot:  openScreenshot,
}

// openStreamCall is streamCall for openStreamProcs: open, reply with
// the stream registered, then serve.
func (h *handler) openStreamCall(c *rpc.Call, fn openStreamFunc) {
	if h.conn() == nil {
		_ = c.ReplyError(errNotOpen)
		return
	}
	if err := h.readOnlyDenied(ProgRemote, c.Proc, c.Body); err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	o, err := fn(h, c.Body)
	if err == errNoSupport {
		err = virerr.New(virerr.FromNone, virerr.ErrNoSupport, "%s", apiName(c.Proc))
	}
	if err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	st := c.NewStream()
	if err := c.Reply(o.ret); err != nil {
		_ = st.CloseWithError(err)
		if o.release != nil {
			o.release()
		}
		return
	}
	if err := o.serve(st); err != nil {
		_ = st.CloseWithError(virerr.From(err))
		return
	}
	_ = st.Close()
}

func openConsole(h *handler, body []byte) (opened, error) {
	a, err := args[DomainOpenConsoleArgs](body)
	if err != nil {
		return opened{}, err
	}
	d, err := need[driver.DomainConsoles](h)
	if err != nil {
		return opened{}, err
	}
	sess, err := d.DomainOpenConsole(drvDom(a.Dom), optString(a.DevName), a.Flags)
	if err != nil {
		return opened{}, err
	}
	return opened{
		serve: func(st *rpc.Stream) error {
			err := sess.Serve(st)
			if err == driver.ErrConsoleTakenOver {
				// libvirtd aborts the old session's stream, which its
				// client sees as this I/O failure.
				return virerr.New(virerr.FromStreams, virerr.ErrRPC, "stream had I/O failure")
			}
			return err
		},
		release: sess.Release,
	}, nil
}

func openScreenshot(h *handler, body []byte) (opened, error) {
	a, err := args[DomainScreenshotArgs](body)
	if err != nil {
		return opened{}, err
	}
	d, err := need[driver.DomainScreenshoter](h)
	if err != nil {
		return opened{}, err
	}
	mime, img, err := d.DomainScreenshot(drvDom(a.Dom), a.Screen, a.Flags)
	if err != nil {
		return opened{}, err
	}
	return opened{
		ret: DomainScreenshotRet{Mime: &mime},
		serve: func(st *rpc.Stream) error {
			defer img.Close()
			_, err := io.Copy(st, img)
			return err
		},
		release: func() { img.Close() },
	}, nil
}
