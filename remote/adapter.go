package remote

import (
	"context"
	"govirt/rpc/procs"

	"govirt/driver"
	"govirt/rpc"
	"govirt/virerr"
)

// NewHandler returns the rpc handler factory for one listener; readOnly
// marks every connection it accepts as read-only (the -ro socket).
func (s *Server) NewHandler(readOnly bool) func(*rpc.Conn) rpc.Handler {
	return func(c *rpc.Conn) rpc.Handler {
		return &handler{session: &session{srv: s, peer: c, rc: c, readOnly: readOnly}}
	}
}

// Call runs one CALL: REMOTE procedures through the table, streams through
// their own path, and everything else as an unknown procedure, which makes
// clients fall back to older calls.
func (h *handler) Call(ctx context.Context, c *rpc.Call) {
	// Authentication comes first, as in libvirt's dispatcher.
	if h.authRequired(c) {
		return
	}
	if c.Prog == ProgRemote && (c.Proc == procs.AuthSaslStart || c.Proc == procs.AuthSaslStep) {
		h.saslCall(c, c.Proc == procs.AuthSaslStart)
		return
	}

	h = h.forCall(ctx, c.Prog, c.Proc)
	if h.acl().Enabled() && h.implemented(c.Prog, c.Proc) {
		if err := h.aclBefore(c.Prog, c.Proc, c.Body); err != nil {
			_ = c.ReplyError(virerr.From(err))
			return
		}
	}
	if c.Prog == ProgQEMU {
		h.qemuCall(c)
		return
	}
	if c.Prog != ProgRemote {
		_ = c.ReplyUnknownProc()
		return
	}
	if fn, ok := openStreamProcs[c.Proc]; ok {
		h.openStreamCall(c, fn)
		return
	}
	if fn, ok := streamProcs[c.Proc]; ok {
		h.streamCall(c, fn)
		return
	}
	if fn, ok := fdProcs[c.Proc]; ok {
		h.fdCall(c, fn)
		return
	}
	if fn, ok := fdInProcs[c.Proc]; ok {
		h.fdInCall(c, fn)
		return
	}
	ret, err, ok := h.dispatch(c.Proc, c.Body)
	switch {
	case !ok && procs.Name(c.Proc) != "":
		// A procedure libvirt has but no driver here implements: the
		// answer libvirtd gives for a driver without it.
		// libvirt's public API checks read-only access before it asks
		// the driver, so a read-only caller sees that refusal first.
		if err := h.readOnlyDenied(ProgRemote, c.Proc, c.Body); err != nil {
			_ = c.ReplyError(virerr.From(err))
			return
		}
		api := apiName(c.Proc)
		_ = c.ReplyError(virerr.New(apiErrorDomain(api), virerr.ErrNoSupport, "%s", api))
	case !ok:
		_ = c.ReplyUnknownProc()
	case err != nil:
		_ = c.ReplyError(virerr.From(err))
	default:
		_ = c.Reply(ret)
	}
}

// Closed releases the connection's driver and callbacks.
func (h *handler) Closed() { h.close() }

// startKeepalive is called when the client asks about the keepalive
// feature; only then is it pinged and dropped when it goes silent.
func (h *handler) startKeepalive() {
	if h.rc != nil {
		h.rc.EnableKeepalive(0, 0)
	}
}

// streamFunc runs a stream procedure after the call was accepted.
type streamFunc func(h *handler, body []byte, st *rpc.Stream) error

// Uploads hand the driver the stream itself; drivers that write packets
// as they come (storagepool) look for this method.
var _ interface {
	ReadChunk(max int) ([]byte, int64, error)
} = (*rpc.Stream)(nil)

var streamProcs = map[int32]streamFunc{
	procs.StorageVolUpload:   volUpload,
	procs.StorageVolDownload: volDownload,
}

// streamCall validates the call, replies, and then pumps the stream; a
// failure after the reply is reported on the stream, as libvirt does.
func (h *handler) streamCall(c *rpc.Call, fn streamFunc) {
	if h.conn() == nil {
		_ = c.ReplyError(errNotOpen)
		return
	}
	if err := h.readOnlyDenied(ProgRemote, c.Proc, c.Body); err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	st := c.Conn.NewStream(c.Proc, c.Serial)
	if err := c.Reply(nil); err != nil {
		_ = st.CloseWithError(err)
		return
	}
	if err := fn(h, c.Body, st); err != nil {
		_ = st.CloseWithError(virerr.From(err))
		return
	}
	_ = st.Close()
}

func volUpload(h *handler, body []byte, st *rpc.Stream) error {
	a, err := args[StorageVolUploadArgs](body)
	if err != nil {
		return err
	}
	d, err := need[driver.StorageVols](h)
	if err != nil {
		return err
	}
	return d.StorageVolUpload(drvVol(a.Vol), st, a.Offset, a.Length, a.Flags)
}

func volDownload(h *handler, body []byte, st *rpc.Stream) error {
	a, err := args[StorageVolDownloadArgs](body)
	if err != nil {
		return err
	}
	d, err := need[driver.StorageVols](h)
	if err != nil {
		return err
	}
	return d.StorageVolDownload(drvVol(a.Vol), st, a.Offset, a.Length, a.Flags)
}
