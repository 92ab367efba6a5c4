package storagepool

import (
	"errors"
	"io"
	"math"
	"os"
	"syscall"

	"govirt/driver"
)

// An upload writes each packet the client sent with one pwrite, straight
// from the buffer it arrived in, as libvirt's fd stream thread does (one
// write per message): staging packets into a bigger buffer costs a copy
// and, with large writes, the page cache builds large folios, which made
// 1 GiB uploads up to three times slower in the kernel on the benchmark
// host. Holes from a sparse stream are not written: a file gets them
// punched (or appended by extending it), a block device gets zeros.

const (
	uploadSparse = 1 << 0 // VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM
	// uploadChunk is the buffer for readers other than the RPC stream,
	// which delivers at most rpc.StreamChunkMax (256 KiB) per packet.
	uploadChunk = 256 << 10
)

// chunkReader is what the RPC stream offers besides io.Reader: the next
// packet without a copy (valid until the next call), or a hole's length.
type chunkReader interface {
	ReadChunk(max int) (data []byte, hole int64, err error)
}

// readerChunks adapts a plain reader (tests, other callers).
type readerChunks struct {
	r   io.Reader
	buf []byte
}

func (rc *readerChunks) ReadChunk(max int) ([]byte, int64, error) {
	if rc.buf == nil {
		rc.buf = make([]byte, uploadChunk)
	}
	// Like io.ReadFull, a reader may return nothing a few times.
	for range 100 {
		n, err := rc.r.Read(rc.buf[:min(max, len(rc.buf))])
		if n > 0 {
			return rc.buf[:n], 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return nil, 0, io.ErrNoProgress
}

func chunksOf(r io.Reader) chunkReader {
	if cr, ok := r.(chunkReader); ok {
		return cr
	}
	return &readerChunks{r: r}
}

// StorageVolUpload writes r into the existing file from offset on,
// without truncating it. With a length, exactly that many bytes are
// accepted: more data is refused with the error libvirt's fd stream
// gives ("cannot write to stream: No space left on device") and nothing
// past the length is written.
func (m *Manager) StorageVolUpload(h driver.Vol, r io.Reader, offset, length uint64, flags uint32) error {
	if flags&^uploadSparse != 0 {
		return errFlags(flags, "storageVolUpload")
	}
	p, v, done, err := m.transferVol(h, true)
	if err != nil {
		return err
	}
	defer done()
	f, err := os.OpenFile(v.path, os.O_WRONLY, 0)
	if err != nil {
		return errSys(err, "Unable to open block device '%s'", v.path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return errSys(err, "Unable to access block device '%s'", v.path)
	}
	w := &uploadTarget{f: f, path: v.path, pos: int64(offset), size: fi.Size(), regular: fi.Mode().IsRegular()}
	cr := chunksOf(r)
	remain := length
	for length == 0 || remain > 0 {
		// Data comes a packet at a time; a hole may be long.
		max := math.MaxInt
		if length > 0 && remain < uint64(max) {
			max = int(remain)
		}
		data, hole, rerr := cr.ReadChunk(max)
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return rerr
		}
		n := hole
		if data != nil {
			n = int64(len(data))
			err = w.write(data)
		} else if hole > 0 {
			err = w.zero(hole)
		}
		if err != nil {
			return err
		}
		remain -= uint64(n)
	}
	if length > 0 && remain == 0 {
		// The client may only finish now; anything more is too much.
		data, hole, err := cr.ReadChunk(1)
		if len(data) > 0 || hole > 0 {
			return errSys(syscall.ENOSPC, "cannot write to stream")
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return errSys(err, "Unable to close block device '%s'", v.path)
	}
	// libvirt refreshes the pool once an upload is complete.
	m.publishRefresh(m.poolHandle(p))
	return nil
}

// uploadTarget is the volume being written and where the next byte goes.
type uploadTarget struct {
	f       *os.File
	path    string
	pos     int64
	size    int64 // of a regular file, as far as we know
	regular bool
	zeros   []byte
}

func (w *uploadTarget) write(b []byte) error {
	if _, err := w.f.WriteAt(b, w.pos); err != nil {
		return errSys(err, "Unable to write block device '%s'", w.path)
	}
	w.pos += int64(len(b))
	w.size = max(w.size, w.pos)
	return nil
}

// zero makes the next n bytes read as zeros without writing them where
// the file system allows: the part inside a regular file is punched out,
// the part past its end is added by extending it.
func (w *uploadTarget) zero(n int64) error {
	if w.regular {
		inside := min(n, max(w.size-w.pos, 0))
		punched := inside == 0
		if inside > 0 {
			err := syscall.Fallocate(int(w.f.Fd()), fallocPunchHole|fallocKeepSize, w.pos, inside)
			if err == nil {
				punched = true
			} else if err != syscall.EOPNOTSUPP && err != syscall.ENOSYS {
				return errSys(err, "unable to punch a hole in %s", w.path)
			}
		}
		if punched {
			if end := w.pos + n; end > w.size {
				if err := w.f.Truncate(end); err != nil {
					return errSys(err, "unable to truncate %s", w.path)
				}
				w.size = end
			}
			w.pos += n
			return nil
		}
	}
	// A block device (or a file system without hole punching) gets zeros.
	if w.zeros == nil {
		w.zeros = make([]byte, 1<<20)
	}
	for n > 0 {
		k := min(n, int64(len(w.zeros)))
		if err := w.write(w.zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// fallocate(2) modes.
const (
	fallocKeepSize  = 0x01 // FALLOC_FL_KEEP_SIZE
	fallocPunchHole = 0x02 // FALLOC_FL_PUNCH_HOLE
)
