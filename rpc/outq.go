package rpc

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// ErrConnClosed is returned for sends on a connection that has ended.
var ErrConnClosed = errors.New("rpc: connection closed")

// ErrQueueOverflow is the reason a client is dropped when it does not read
// its events fast enough.
var ErrQueueOverflow = errors.New("rpc: client outgoing queue overflow")

const poolBufMax = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= poolBufMax {
		bufPool.Put(&b)
	}
}

// outQueue serialises frames onto the socket from a single writer
// goroutine. Replies and stream data wait for room (back-pressure lands on
// that client's own handlers only); events never wait, and a client whose
// backlog grows past the event limit is dropped, as libvirtd does, so a
// stuck client cannot hold up event publishing for everybody else.
type outQueue struct {
	mu        sync.Mutex
	room      *sync.Cond
	frames    [][]byte
	bytes     int
	closed    bool
	wake      chan struct{}
	nc        net.Conn // set by run; enables the direct-write fast path
	writing   bool     // someone owns the socket for writing right now
	maxBytes  int      // blocking senders wait while the backlog exceeds this
	maxFrames int      // non-blocking senders overflow past this many frames
	// maxAsync bounds the backlog in bytes for non-blocking senders: room
	// for the blocking senders' backlog, one largest reply, and then
	// events; a client that lets more pile up is dropped.
	maxAsync int
}

func newOutQueue(maxBytes, maxFrames int) *outQueue {
	q := &outQueue{wake: make(chan struct{}, 1), maxBytes: maxBytes, maxFrames: maxFrames, maxAsync: 4*maxBytes + MessageMax}
	q.room = sync.NewCond(&q.mu)
	return q
}

func (q *outQueue) push(frame []byte) {
	q.frames = append(q.frames, frame)
	q.bytes += len(frame)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// put queues frame, waiting for room. A frame larger than the limit is
// still accepted once the queue is empty.
func (q *outQueue) put(frame []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed && q.bytes > 0 && q.bytes+len(frame) > q.maxBytes {
		q.room.Wait()
	}
	if q.closed {
		return ErrConnClosed
	}
	if q.writeDirect(frame) {
		return nil
	}
	q.push(frame)
	return nil
}

// writeDirect writes frame from the caller's goroutine when nothing else
// is queued or being written, saving the hand-off to the writer goroutine
// on the common request/reply path. Order is kept: it only runs when the
// queue is empty and nobody else is writing. Called with q.mu held; it
// releases the lock while writing.
func (q *outQueue) writeDirect(frame []byte) bool {
	if q.writing || len(q.frames) > 0 || q.nc == nil {
		return false
	}
	q.writing = true
	nc := q.nc
	q.mu.Unlock()
	_, err := nc.Write(frame)
	putBuf(frame)
	if err != nil {
		// The reader sees the closed socket and tears the connection down.
		nc.Close()
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
	return true
}

// putThen writes frame to nc once everything queued before it is
// written, then runs fn before any later frame goes out; it is how a
// security layer starts right after the reply that ends the
// authentication.
func (q *outQueue) putThen(nc net.Conn, frame []byte, fn func()) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed && (q.writing || len(q.frames) > 0) {
		q.room.Wait()
	}
	if q.closed {
		return ErrConnClosed
	}
	q.writing = true
	q.mu.Unlock()
	_, err := nc.Write(frame)
	putBuf(frame)
	fn()
	q.mu.Lock()
	q.writing = false
	if len(q.frames) > 0 {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	q.room.Broadcast()
	if err != nil {
		nc.Close()
	}
	return err
}

// tryPut queues frame without waiting; it reports overflow instead.
func (q *outQueue) tryPut(frame []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrConnClosed
	}
	if len(q.frames) >= q.maxFrames || q.bytes+len(frame) > q.maxAsync {
		return ErrQueueOverflow
	}
	// No direct write here: a write to a stuck client would block, and
	// event publishers must never wait.
	q.push(frame)
	return nil
}

// tryPutNow is tryPut for small frames (keepalive pings) that first
// tries a non-blocking write from the caller's goroutine when nothing is
// queued or being written: an idle connection's ping then costs no
// hand-off to the writer goroutine (a thread wake-up on every ping of
// every idle client). It never blocks: what the socket does not take at
// once is queued as tryPut would.
func (q *outQueue) tryPutNow(frame []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrConnClosed
	}
	if !q.writing && len(q.frames) == 0 && q.nc != nil {
		if sc, ok := q.nc.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				n := 0
				// Returning true never parks: a full socket is left
				// to the writer goroutine.
				rc.Write(func(fd uintptr) bool {
					if w, err := syscall.Write(int(fd), frame); err == nil {
						n = w
					}
					return true
				})
				if n == len(frame) {
					putBuf(frame)
					return nil
				}
				// The rest goes first; the queue was empty.
				frame = frame[n:]
			}
		}
	}
	if len(q.frames) >= q.maxFrames || q.bytes+len(frame) > q.maxAsync {
		return ErrQueueOverflow
	}
	q.push(frame)
	return nil
}

func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.frames = nil
	q.room.Broadcast()
	q.mu.Unlock()
}

// run writes batches with writev until the queue is closed or a write
// fails; done is closed by the caller to stop it.
func (q *outQueue) run(nc net.Conn, done <-chan struct{}) error {
	var batch, iov [][]byte
	q.mu.Lock()
	q.nc = nc
	q.mu.Unlock()
	for {
		select {
		case <-q.wake:
		case <-done:
			return ErrConnClosed
		}
		for {
			q.mu.Lock()
			if q.closed {
				q.mu.Unlock()
				return ErrConnClosed
			}
			if q.writing {
				// A direct writer owns the socket; it wakes us when done.
				q.mu.Unlock()
				break
			}
			batch = append(batch[:0], q.frames...)
			clear(q.frames)
			q.frames = q.frames[:0]
			q.writing = len(batch) > 0
			q.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			n := 0
			for _, f := range batch {
				n += len(f)
			}
			// WriteTo consumes the slice it is given, so hand it a copy and
			// keep batch intact for recycling.
			iov = append(iov[:0], batch...)
			bufs := net.Buffers(iov)
			_, err := bufs.WriteTo(nc)
			for i, f := range batch {
				putBuf(f)
				batch[i] = nil
			}
			q.mu.Lock()
			q.bytes -= n
			q.writing = false
			q.room.Broadcast()
			q.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
}
