package qemu

import (
	"context"
	"io"
	"os"

	"govirt/client"
	"govirt/driver"
	"govirt/qmp"
	"govirt/rpc"
	"govirt/virerr"
)

// Tunnelled migration (virsh migrate --p2p --tunnelled): QEMU's migration
// stream goes through the daemons' RPC connection instead of a direct TCP
// connection between the QEMUs, as libvirt's qemuMigrationSrcPerformTunnel
// and qemuMigrationDstPrepareTunnel. The source's QEMU migrates into a
// pipe whose other end this daemon sends as the data of the Prepare call's
// stream; the destination daemon writes that data into a pipe its QEMU
// reads with migrate-incoming fd:.

const tunnelFDName = "govirt-tunnel"

// tunnelOut is the source side: the stream opened by the destination's
// PrepareTunnel3 call.
type tunnelOut struct{ st *client.Stream }

// run migrates QEMU into the stream and waits until QEMU completed and the
// destination daemon has taken all of the data.
func (t *tunnelOut) run(ctx context.Context, mon monitor, m *migration) error {
	const what = "migration out job"
	fm, ok := mon.(fdMonitor)
	if !ok {
		_ = t.st.Abort()
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "monitor cannot pass descriptors")
	}
	r, w, err := os.Pipe()
	if err != nil {
		_ = t.st.Abort()
		return virerr.New(virerr.FromQemu, virerr.ErrSystemError, "cannot create pipe for tunnelled migration: %v", err)
	}
	err = qmp.Getfd(ctx, fm, tunnelFDName, w)
	w.Close() // QEMU has its copy; EOF comes when QEMU closes it
	if err != nil {
		r.Close()
		_ = t.st.Abort()
		return qmpFailed("getfd", err)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(t.st, r, make([]byte, rpc.StreamChunkMax))
		copied <- err
	}()
	fail := func(err error) error {
		r.Close() // ends the copy, and QEMU's writes (EPIPE)
		_ = t.st.Abort()
		<-copied
		return err
	}
	if err := qmp.Migrate(ctx, mon, "fd:"+tunnelFDName); err != nil {
		_ = mon.Execute(context.Background(), "closefd", map[string]string{"fdname": tunnelFDName}, nil)
		return fail(errQEMU(virerr.ErrOperationFailed, "%s: %v", what, err))
	}
	if err := waitMigrationEvents(ctx, mon, m, what); err != nil {
		return fail(err)
	}
	// QEMU closed its end once it completed: the copy drains the pipe.
	select {
	case err := <-copied:
		r.Close()
		if err != nil {
			_ = t.st.Abort()
			return errQEMU(virerr.ErrOperationFailed, "%s: tunnel: %v", what, err)
		}
	case <-ctx.Done():
		return fail(errLostDestination())
	}
	if err := t.st.Finish(); err != nil {
		if ve, ok := err.(*virerr.Error); ok {
			return ve
		}
		return errQEMU(virerr.ErrOperationFailed, "%s: tunnel: %v", what, err)
	}
	return nil
}

// incomingFromPipe has the destination's QEMU read the migration from r.
func incomingFromPipe(ctx context.Context, mon monitor, r *os.File) error {
	fm, ok := mon.(fdMonitor)
	if !ok {
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "monitor cannot pass descriptors")
	}
	if err := qmp.Getfd(ctx, fm, tunnelFDName, r); err != nil {
		return qmpFailed("getfd", err)
	}
	if err := qmp.MigrateIncoming(ctx, mon, "fd:"+tunnelFDName); err != nil {
		return qmpFailed("migrate-incoming", err)
	}
	return nil
}

// DomainMigratePrepareTunnel3 is the destination's Prepare of a tunnelled
// migration; the stream's data goes to the returned pipe.
func (c *conn) DomainMigratePrepareTunnel3(params []driver.TypedParam, cookieIn []byte, flags uint32) ([]byte, io.WriteCloser, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, virerr.New(virerr.FromQemu, virerr.ErrSystemError, "cannot create pipe for tunnelled migration: %v", err)
	}
	defer r.Close() // QEMU has its own copy once Prepare is done
	c.stepStart()
	cookie, _, v, err := c.migratePrepare3(params, cookieIn, flags, r)
	if c.stepEnd() && err == nil {
		c.d.undoOrphan(driver.Domain{}, v)
		err = errClientClosed
	}
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return cookie, w, nil
}
