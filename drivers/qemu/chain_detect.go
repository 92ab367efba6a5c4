package qemu

import (
	"errors"
	"os"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/storage"
	"govirt/virerr"
)

// prepareDiskChains completes every disk's backing chain from the images
// and gives each image of the running guest its index, before the
// command line is built. The builder numbers -blockdev nodes in the same
// order (disks last to first, each chain top down, from 1), so image N is
// libvirt-N-storage/-format, as in libvirt where index and node name share
// one counter. The next free index goes to v's block state; it only grows
// while the guest runs, so an index is never reused.
func (d *Driver) prepareDiskChains(v *vm, live *conf.Domain) error {
	n := 0
	disks := live.Devices.Disks
	for i := len(disks) - 1; i >= 0; i-- {
		disk := disks[i]
		if command.SourceEmpty(&disk.Source) {
			// An empty drive takes a node number too (libvirt gives
			// its source an id), so the numbers stay the builder's.
			if disk.Source.Type != "" {
				n++
			}
			continue
		}
		if err := detectChain(disk); err != nil {
			return err
		}
		for _, l := range layersOf(&disk.Source) {
			n++
			l.Index = n
		}
	}
	v.mu.Lock()
	resetBlockState(v, n+1)
	name := v.name
	v.mu.Unlock()
	d.dropPendingBlockState(name)
	return nil
}

// detectChain fills in the part of disk's chain the XML does not give:
// a written <backingStore> is trusted, an empty <backingStore/> ends the
// chain, and below the last written image the images' own headers say
// what comes next. Only file and block images are inspected.
func detectChain(disk *conf.Disk) error {
	last := &disk.Source
	for last.Backing != nil {
		if last.Backing.Type == "" {
			return nil
		}
		last = last.Backing
	}
	switch last.Type {
	case "file", "block":
	default:
		return nil
	}
	if last.Format == "" && last == &disk.Source {
		// libvirt never probes: an image whose format nobody gave is raw.
		last.Format = "raw"
	}
	if last == &disk.Source && !backingCapable(last.Format) && command.LayerFDGroup(disk, last) != "" {
		// libvirt assumes an image passed by descriptors exists and
		// does not look at its path.
		last.Backing = &conf.DiskSource{}
		return nil
	}
	chain, err := storage.DetectChain(last.Path, last.Format, storage.ChainOptions{})
	if err != nil {
		return chainError(last.Path, err)
	}
	// Layers[0] is last itself.
	tail := last
	for _, img := range chain.Layers[1:] {
		next := &conf.DiskSource{Type: "file", Format: img.Format, Path: img.Path}
		if img.Protocol != "" {
			// The builder refuses network layers with a clear error.
			next = &conf.DiskSource{Type: "network", Protocol: img.Protocol, Name: img.Path, Format: img.Format}
		} else if fi, err := os.Stat(img.Path); err == nil && fi.Mode()&os.ModeDevice != 0 {
			next.Type = "block"
		}
		tail.Backing = next
		tail = next
	}
	tail.Backing = &conf.DiskSource{}
	return nil
}

// chainError maps the storage package's errors to libvirt's codes; its
// messages already name the images involved.
func chainError(top string, err error) error {
	switch {
	case errors.Is(err, storage.ErrMissingBacking), errors.Is(err, os.ErrNotExist):
		return errQEMU(virerr.ErrSystemError, "Cannot access backing chain of '%s': %v", top, err)
	case errors.Is(err, storage.ErrLoop), errors.Is(err, storage.ErrTooDeep):
		return errQEMU(virerr.ErrInternalError, "backing store for %s is self-referential or too deeply nested: %v", top, err)
	case errors.Is(err, storage.ErrFormatNotDeclared):
		return errQEMU(virerr.ErrOperationInvalid, "%v (See https://libvirt.org/kbase/backing_chains.html for troubleshooting)", err)
	}
	return errQEMU(virerr.ErrOperationFailed, "cannot read the backing chain of '%s': %v", top, err)
}

// backingCapable reports image formats that can have a backing image
// (libvirt's formats below VIR_STORAGE_FILE_BACKING have none).
func backingCapable(f string) bool {
	switch f {
	case "cow", "qcow", "qcow2", "qed", "vmdk":
		return true
	}
	return false
}
