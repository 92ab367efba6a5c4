package storagepool

import (
	"errors"
	"io"
	"os"
	"syscall"

	"govirt/driver"
)

// Upload and download stream the file directly: a 4 MiB buffer keeps the
// number of system calls low (a 256 MiB transfer is 64 writes), and the
// stream itself splits data into RPC-sized messages.

const (
	uploadSparse   = 1 << 0 // VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM
	downloadSparse = 1 << 0 // VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM
	xferBuf        = 4 << 20
)

// transferVol marks the volume busy for a stream; an upload also needs it
// to be otherwise unused, as storageVolUpload.
func (m *Manager) transferVol(h driver.Vol, exclusive bool) (*pool, *vol, func(), error) {
	p, v, _, done, err := m.busyVol(h, func(_ *pool, v *vol) error {
		if exclusive && v.inUse > 0 {
			return errVolInUse(v.name)
		}
		return nil
	})
	return p, v, done, err
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
	buf := make([]byte, xferBuf)
	pos := int64(offset)
	remain := length
	for length == 0 || remain > 0 {
		want := buf
		if length > 0 && remain < uint64(len(want)) {
			want = want[:remain]
		}
		n, rerr := io.ReadFull(r, want)
		if n > 0 {
			if _, err := f.WriteAt(want[:n], pos); err != nil {
				return errSys(err, "Unable to write block device '%s'", v.path)
			}
			pos += int64(n)
			remain -= uint64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if length > 0 && remain == 0 {
		// The client may only finish now; anything more is too much.
		var one [1]byte
		n, err := io.ReadFull(r, one[:])
		if n > 0 {
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
	m.publishRefresh(p.handle())
	return nil
}

// StorageVolDownload copies length bytes (0: up to the end) from offset.
func (m *Manager) StorageVolDownload(h driver.Vol, w io.Writer, offset, length uint64, flags uint32) error {
	if flags&^downloadSparse != 0 {
		return errFlags(flags, "storageVolDownload")
	}
	_, v, done, err := m.transferVol(h, false)
	if err != nil {
		return err
	}
	defer done()
	f, err := os.Open(v.path)
	if err != nil {
		return errSys(err, "Unable to open block device '%s'", v.path)
	}
	defer f.Close()
	buf := make([]byte, xferBuf)
	pos := int64(offset)
	remain := length
	for length == 0 || remain > 0 {
		want := buf
		if length > 0 && remain < uint64(len(want)) {
			want = want[:remain]
		}
		n, rerr := f.ReadAt(want, pos)
		if n > 0 {
			if _, err := w.Write(want[:n]); err != nil {
				return err
			}
			pos += int64(n)
			remain -= uint64(n)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return errSys(rerr, "unable to read %s", v.path)
		}
	}
	return nil
}
