package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
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

// skipPassedFDs keeps the stream in step after a CALL_WITH_FDS, which
// govirt refuses: libvirt's client sends the call, then each descriptor
// with one data byte of its own (virNetSocketSendFD), and the call's body
// starts with their number. Reading those bytes through the buffered
// reader drops the descriptors themselves (the kernel closes them when
// recvmsg has no room for them), so the next call starts where it should
// and the client gets its error instead of a closed connection.
func (c *Conn) skipPassedFDs(br *bufio.Reader, body []byte) error {
	if len(body) < 4 {
		return fmt.Errorf("%w: call with descriptors lacks their count", ErrFrameType)
	}
	n := binary.BigEndian.Uint32(body)
	if n > maxFDs {
		// libvirtd drops such a client too ("Too many FDs to receive").
		return fmt.Errorf("rpc: client passes %d descriptors, at most %d allowed", n, maxFDs)
	}
	if stall := c.srv.stallTimeout(); stall > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(stall))
		defer c.nc.SetReadDeadline(time.Time{})
	}
	for i := uint32(0); i < n; i++ {
		if _, err := br.ReadByte(); err != nil {
			return c.stalled(unexpectedEOF(err))
		}
	}
	return nil
}
