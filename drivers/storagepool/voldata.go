package storagepool

import (
	"io"
	"os"

	"govirt/driver"
)

// A download reads the file with a 4 MiB buffer, which keeps the number
// of system calls low (a 256 MiB transfer is 64 reads); the stream itself
// splits data into RPC-sized messages. Uploads are in volupload.go.

const (
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
