package qemu

import (
	"context"
	"os"
	"path/filepath"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// copyTuning are blockdev-mirror's optional knobs.
type copyTuning struct {
	speed       uint64 // bytes/s
	granularity uint64
	bufSize     uint64
}

func (c *conn) DomainBlockCopy(h driver.Domain, diskArg, destXML string, params []driver.TypedParam, flags uint32) error {
	dev, err := conf.ParseDevice([]byte(destXML))
	if err != nil {
		return err
	}
	dd, ok := dev.(*conf.Disk)
	if !ok {
		return errQEMU(virerr.ErrInvalidArg, "block copy destination must be a <disk>")
	}
	var t copyTuning
	for _, p := range params {
		n, _ := toUint64(p.Value)
		switch p.Field {
		case driver.BlockCopyParamBandwidth:
			t.speed = n
		case driver.BlockCopyParamGranularity:
			if n&(n-1) != 0 {
				return errQEMU(virerr.ErrInvalidArg, "granularity must be power of 2")
			}
			t.granularity = n
		case driver.BlockCopyParamBufSize:
			t.bufSize = n
		default:
			return errQEMU(virerr.ErrInvalidArg, "argument unsupported: parameter '%s' not supported", p.Field)
		}
	}
	return c.blockCopy(h, diskArg, dd.Source, t, flags)
}

func toUint64(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint64:
		return n, true
	case uint32:
		return uint64(n), true
	case int64:
		return uint64(n), true
	case int32:
		return uint64(n), true
	}
	return 0, false
}

// blockCopy mirrors a disk's top image (or, shallow, only what the top
// holds) into a new image plugged into QEMU beside it, as libvirt's
// blockdev-mirror path: the copy gets a fresh index and node names; a
// pivot makes it the disk's top, anything else unplugs it.
func (c *conn) blockCopy(h driver.Domain, diskArg string, dest conf.DiskSource, t copyTuning, flags uint32) error {
	if dest.Type == "" {
		dest.Type = "file"
	}
	if dest.Type != "file" && dest.Type != "block" {
		return errQEMU(virerr.ErrConfigUnsupported, "block copy to a '%s' destination is not supported", dest.Type)
	}
	if !filepath.IsAbs(dest.Path) {
		return errQEMU(virerr.ErrInvalidArg, "absolute path must be used as block copy target")
	}
	reuse := flags&driver.BlockCopyReuseExt != 0
	return c.withJob(h, "block copy", func(v *vm, mon monitor) error {
		v.mu.Lock()
		persistent := v.persistent
		disk, _, err := findDisk(v.live, diskArg, errDiskNotFound)
		if err == nil {
			err = checkNoJob(v, disk)
		}
		if err == nil && flags&driver.BlockCopyTransientJob == 0 && persistent {
			// libvirt's rule: a mirror cannot survive a managed save, so a
			// copy of a persistent guest must be declared transient.
			err = errQEMU(virerr.ErrOperationInvalid, "domain is not transient")
		}
		if err != nil {
			v.mu.Unlock()
			return err
		}
		shallow := flags&driver.BlockCopyShallow != 0
		hasBacking := disk.Source.Backing != nil && disk.Source.Backing.Type != ""
		if !hasBacking {
			shallow = false
		}
		if dest.Format == "" {
			dest.Format = disk.Source.Format
		}
		if shallow && dest.Format == "raw" {
			v.mu.Unlock()
			return errQEMU(virerr.ErrInvalidArg, "shallow copy of disk '%s' into a raw file is not possible", disk.TargetDev)
		}
		if disk.ReadOnly {
			v.mu.Unlock()
			return errQEMU(virerr.ErrOperationUnsupported, "copy of read-only disks is not supported")
		}
		target, topFmt, topNode := disk.TargetDev, disk.Source.NodeNameFormat, disk.Source.NodeNameFormat
		backingPath, backingFmt, backingNode := "", "", ""
		if shallow {
			b := disk.Source.Backing
			backingPath, backingFmt, backingNode = b.Path, b.Format, b.NodeNameFormat
		}
		mirror := newImageSource(v, dest.Type, dest.Path, dest.Format)
		if !shallow {
			// A full copy stands alone; a shallow one takes the disk's
			// backing chain when it pivots.
			mirror.Backing = &conf.DiskSource{}
		}
		v.mu.Unlock()

		ctx := context.Background()
		created := false
		if !reuse {
			// A block device is used as it is; a file is created.
			if dest.Type != "block" {
				size, err := nodeVirtualSize(ctx, mon, topNode)
				if err != nil {
					return err
				}
				if err := createImage(dest.Path, dest.Format, size, backingPath, backingFmt); err != nil {
					return err
				}
				created = true
			}
		} else if !fileExists(dest.Path) {
			return errQEMU(virerr.ErrInvalidArg, "missing destination file for disk %s: %s", target, dest.Path)
		}
		undo := func() {
			if created {
				os.Remove(dest.Path)
			}
		}
		// The destination is QEMU's to write: its user gets it.
		if live, _, _ := liveSnapshot(v); live != nil {
			if disk := live.DiskByTarget(target); disk != nil {
				if err := c.d.grantNewImage(v, live, disk, &mirror); err != nil {
					undo()
					return err
				}
				prev := undo
				undo = func() {
					c.d.restoreNewImage(v.name, live, disk, &mirror)
					prev()
				}
			}
		}
		if err := addImageNodes(ctx, mon, &mirror, backingNode); err != nil {
			undo()
			return err
		}
		j := newBlockJob("copy-"+target+"-"+topFmt, target, driver.BlockJobTypeCopy)
		j.Shallow, j.Bandwidth = shallow, t.speed
		sync := "full"
		if shallow {
			sync = "top"
		}
		args := qmp.BlockdevMirrorArgs{
			JobID: j.Name, Device: topNode, Target: mirror.NodeNameFormat, Sync: sync,
			Speed: t.speed, Granularity: t.granularity, BufSize: t.bufSize,
			AutoFinalize: true, AutoDismiss: false,
		}
		if flags&driver.BlockCopySynchronousWrites != 0 {
			args.CopyMode = "write-blocking"
		}
		m := &conf.DiskMirror{Source: mirror, Job: "copy"}
		if err := c.d.startJob(v, mon, j, m, "blockdev-mirror", func(ctx context.Context) error {
			return qmp.BlockdevMirror(ctx, mon, args)
		}); err != nil {
			delNodes(ctx, mon, &mirror)
			undo()
			return err
		}
		return nil
	})
}
