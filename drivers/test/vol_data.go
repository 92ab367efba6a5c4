package test

import (
	"bytes"
	"io"

	"govirt/driver"
	"govirt/virerr"
)

// Volume content is an in-memory byte slice that is never modified in
// place: writers build a new slice and swap it in under dataMu, so a
// download can stream the slice it saw without holding any lock while the
// client reads. A volume reads as its capacity long, zeros past the data,
// like a sparse file of that size.

// lookupVol returns the volume for a data transfer, releasing the
// instance lock before the caller streams.
func (in *instance) lookupVol(h driver.Vol) (*volObj, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	_, v, err := in.volFor(h)
	return v, err
}

func (v *volObj) snapshotData() ([]byte, uint64) {
	v.dataMu.Lock()
	defer v.dataMu.Unlock()
	return v.data, max(v.capacity, uint64(len(v.data)))
}

func (in *instance) StorageVolUpload(h driver.Vol, r io.Reader, offset, length uint64, flags uint32) error {
	v, err := in.lookupVol(h)
	if err != nil {
		return err
	}
	var buf []byte
	if length > 0 {
		buf = make([]byte, length)
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
		buf = buf[:n]
	} else {
		var b bytes.Buffer
		if _, err := b.ReadFrom(r); err != nil {
			return err
		}
		buf = b.Bytes()
	}
	v.dataMu.Lock()
	defer v.dataMu.Unlock()
	end := offset + uint64(len(buf))
	if offset == 0 && end >= uint64(len(v.data)) {
		v.data = buf
		return nil
	}
	next := make([]byte, max(end, uint64(len(v.data))))
	copy(next, v.data)
	copy(next[offset:], buf)
	v.data = next
	return nil
}

var zeros = make([]byte, 256<<10)

func (in *instance) StorageVolDownload(h driver.Vol, w io.Writer, offset, length uint64, flags uint32) error {
	v, err := in.lookupVol(h)
	if err != nil {
		return err
	}
	data, size := v.snapshotData()
	if offset > size {
		return virerr.New(virerr.FromStorage, virerr.ErrInvalidArg, "offset %d is beyond the end of volume '%s'", offset, h.Name)
	}
	end := size
	if length > 0 && offset+length < end {
		end = offset + length
	}
	if offset < uint64(len(data)) {
		stop := min(end, uint64(len(data)))
		if _, err := w.Write(data[offset:stop]); err != nil {
			return err
		}
		offset = stop
	}
	for offset < end {
		n := min(end-offset, uint64(len(zeros)))
		if _, err := w.Write(zeros[:n]); err != nil {
			return err
		}
		offset += n
	}
	return nil
}

// StorageVolWipe zeroes the content (every algorithm gives the same
// result in memory). libvirt's test driver does not implement it.
func (in *instance) StorageVolWipe(h driver.Vol, flags uint32) error {
	if err := checkFlags(flags, 0, "testStorageVolWipe"); err != nil {
		return err
	}
	v, err := in.lookupVol(h)
	if err != nil {
		return err
	}
	v.dataMu.Lock()
	v.data = nil
	v.dataMu.Unlock()
	return nil
}

// Resize flags (virStorageVolResizeFlags).
const (
	resizeAllocate = 1 << 0
	resizeDelta    = 1 << 1
	resizeShrink   = 1 << 2
)

// StorageVolResize follows the storage driver's rules; libvirt's test
// driver does not implement it.
func (in *instance) StorageVolResize(h driver.Vol, capacity uint64, flags uint32) error {
	if err := checkFlags(flags, resizeAllocate|resizeDelta|resizeShrink, "testStorageVolResize"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	p, v, err := in.volFor(h)
	if err != nil {
		return err
	}
	if flags&resizeDelta != 0 {
		if flags&resizeShrink != 0 {
			if capacity > v.capacity {
				return virerr.New(virerr.FromStorage, virerr.ErrInvalidArg, "%s", "can't shrink capacity below zero")
			}
			capacity = v.capacity - capacity
		} else {
			capacity += v.capacity
		}
	}
	if capacity < v.capacity && flags&resizeShrink == 0 {
		return virerr.New(virerr.FromStorage, virerr.ErrInvalidArg, "%s",
			"Can't shrink capacity below current capacity unless shrink flag explicitly specified")
	}
	if capacity < v.allocation {
		return virerr.New(virerr.FromStorage, virerr.ErrInvalidArg, "%s", "Can't shrink capacity below current allocation")
	}
	grow := uint64(0)
	if flags&resizeAllocate != 0 && capacity > v.allocation {
		grow = capacity - v.allocation
	}
	if grow > p.capacity-p.allocation {
		return virerr.New(virerr.FromStorage, virerr.ErrOperationFailed, "%s", "Not enough space left in storage pool")
	}
	v.capacity = capacity
	v.allocation += grow
	p.allocation += grow
	v.dataMu.Lock()
	if uint64(len(v.data)) > capacity {
		v.data = v.data[:capacity:capacity]
	}
	v.dataMu.Unlock()
	return nil
}
