package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"govirt/virerr"
)

// maxFDs is VIR_NET_MESSAGE_NUM_FDS_MAX.
const maxFDs = 32

// ReplyWithFDs answers with descriptors, as libvirtd answers
// OPEN_GRAPHICS_FD: a REPLY_WITH_FDS whose body starts with the number of
// descriptors, then ret; after the frame each descriptor follows on the
// unix socket as SCM_RIGHTS data of a one-byte message (virSocketSendFD).
// The caller keeps ownership of files. A connection that cannot carry
// descriptors gets libvirt's error instead.
func (c *Call) ReplyWithFDs(ret any, files []*os.File) error {
	if len(files) > maxFDs {
		return c.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrRPC, "Too many FDs to send %d, expected %d maximum", len(files), maxFDs))
	}
	uc, ok := c.Conn.nc.(*net.UnixConn)
	if !ok {
		return c.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrInternalError, "Sending file descriptors is not supported on this socket"))
	}
	if !c.claim() {
		return ErrAlreadyReplied
	}
	h := c.replyHeader(StatusOK)
	h.Type = TypeReplyWithFDs
	e := NewFrame(getBuf(), h)
	e.Uint32(uint32(len(files)))
	if ret != nil {
		if err := e.Encode(ret); err != nil {
			return c.Conn.sendError(c.replyHeader(StatusError),
				virerr.New(virerr.FromRPC, virerr.ErrInternalError, "failed to encode reply: %v", err))
		}
	}
	frame, err := FinishFrame(e)
	if err != nil {
		return err
	}
	return c.Conn.out.putWithFDs(frame, uc, files)
}

// putWithFDs writes frame and then the descriptors, with nothing else in
// between: it waits until the queue is empty and nobody writes, then owns
// the socket for the whole message.
func (q *outQueue) putWithFDs(frame []byte, uc *net.UnixConn, files []*os.File) error {
	q.mu.Lock()
	for !q.closed && (q.writing || len(q.frames) > 0) {
		q.room.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return ErrConnClosed
	}
	q.writing = true
	q.mu.Unlock()
	_, err := uc.Write(frame)
	putBuf(frame)
	for _, f := range files {
		if err != nil {
			break
		}
		err = sendFD(uc, f)
	}
	if err != nil {
		uc.Close() // the reader sees it and ends the connection
	}
	q.mu.Lock()
	q.writing = false
	if len(q.frames) > 0 {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	q.room.Broadcast()
	q.mu.Unlock()
	return err
}

// sendFD sends one descriptor with a single zero byte.
func sendFD(uc *net.UnixConn, f *os.File) error {
	n, oobn, err := uc.WriteMsgUnix([]byte{0}, syscall.UnixRights(int(f.Fd())), nil)
	if err == nil && (n != 1 || oobn == 0) {
		err = errors.New("rpc: short write sending a file descriptor")
	}
	return err
}

// takePassedFDs reads the descriptors of a CALL_WITH_FDS: libvirt's
// client sends the call, then each descriptor with one data byte of its
// own (virNetSocketSendFD), and the call's body starts with their number.
// The socket is read with recvmsg (fdReader), so each descriptor is
// queued when its byte arrives; once the bytes are consumed the call's
// descriptors are the first n queued. A socket that cannot carry them
// (TCP, TLS) has its bytes skipped, and the call gets none.
func (c *Conn) takePassedFDs(br *bufio.Reader, body []byte) ([]*os.File, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("%w: call with descriptors lacks their count", ErrFrameType)
	}
	n := binary.BigEndian.Uint32(body)
	if n > maxFDs {
		// libvirtd drops such a client too ("Too many FDs to receive").
		return nil, fmt.Errorf("rpc: client passes %d descriptors, at most %d allowed", n, maxFDs)
	}
	if stall := c.srv.stallTimeout(); stall > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(stall))
		defer c.nc.SetReadDeadline(time.Time{})
	}
	for i := uint32(0); i < n; i++ {
		if _, err := br.ReadByte(); err != nil {
			return nil, c.stalled(unexpectedEOF(err))
		}
	}
	if c.fdr == nil || n == 0 {
		return nil, nil
	}
	if uint32(len(c.fdr.fds)) < n {
		// libvirtd fails to receive them and drops the client.
		return nil, fmt.Errorf("rpc: client announced %d descriptors and passed %d", n, len(c.fdr.fds))
	}
	fds := append([]*os.File(nil), c.fdr.fds[:n]...)
	c.fdr.fds = append(c.fdr.fds[:0], c.fdr.fds[n:]...)
	return fds, nil
}

// fdReader reads a unix socket with recvmsg and room for descriptors, so
// those a client passes are kept (a plain read makes the kernel close
// them). Linux ends a read after the byte that carries descriptors, so
// they queue in the order of the stream. Only the connection's reader
// uses it.
type fdReader struct {
	uc  *net.UnixConn
	oob []byte
	fds []*os.File // received, not yet taken by a call
}

func newFDReader(uc *net.UnixConn) *fdReader {
	return &fdReader{uc: uc, oob: make([]byte, syscall.CmsgSpace(4*maxFDs))}
}

func (r *fdReader) Read(p []byte) (int, error) {
	n, oobn, _, _, err := r.uc.ReadMsgUnix(p, r.oob)
	if n < 0 { // a failed recvmsg
		n = 0
	}
	if oobn > 0 {
		r.collect(r.oob[:oobn])
	}
	if n == 0 && err == nil && len(p) > 0 {
		// recvmsg's 0 on a stream socket is the end of the stream.
		return 0, io.EOF
	}
	return n, err
}

// maxQueuedFDs bounds what a client may pass ahead of its calls; more are
// closed at once (the call they belong to then fails to get them).
const maxQueuedFDs = 4 * maxFDs

func (r *fdReader) collect(oob []byte) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for i := range msgs {
		fds, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if len(r.fds) >= maxQueuedFDs {
				syscall.Close(fd)
				continue
			}
			syscall.CloseOnExec(fd)
			r.fds = append(r.fds, os.NewFile(uintptr(fd), "passed-fd"))
		}
	}
}

func (r *fdReader) closeAll() {
	closeFiles(r.fds)
	r.fds = nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
