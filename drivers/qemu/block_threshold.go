package qemu

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// virsh domblkthreshold as libvirt 9.0's qemuDomainSetBlockThreshold: the
// threshold is armed on the image's storage node with
// block-set-write-threshold, and QEMU's BLOCK_WRITE_THRESHOLD event on that
// node becomes libvirt's BLOCK_THRESHOLD event (qemuProcessHandleBlockThreshold):
// one naming the disk ("vda") when the node is the disk's top image and the
// threshold was not set through an index, one naming the image by index
// ("vda[1]") always.

// sourceByDevstr is qemuDomainGetStorageSourceByDevstr over the live
// definition: "vda" is the disk's top image, "vda[N]" the image of index N.
func sourceByDevstr(def *conf.Domain, dev string) (*conf.Disk, *conf.DiskSource, error) {
	target, idx, ok := parseBackingStoreStr(dev)
	if !ok {
		return nil, nil, errQEMU(virerr.ErrInvalidArg, "failed to parse block device '%s'", dev)
	}
	disk := diskByTarget(def, target)
	if disk == nil {
		return nil, nil, errQEMU(virerr.ErrInvalidArg, "failed to find disk '%s'", target)
	}
	if idx == 0 {
		return disk, &disk.Source, nil
	}
	if l := layerByIndex(disk, idx); l != nil {
		return disk, l, nil
	}
	return nil, nil, errQEMU(virerr.ErrInvalidArg, "failed to find disk '%s'", dev)
}

// parseBackingStoreStr is virStorageFileParseBackingStoreStr: "vda" or
// "vda[N]" with N a decimal number (0 included).
func parseBackingStoreStr(dev string) (string, int, bool) {
	i := strings.IndexByte(dev, '[')
	if i < 0 {
		return dev, 0, true
	}
	if !strings.HasSuffix(dev, "]") {
		return "", 0, false
	}
	n, err := strconv.ParseUint(dev[i+1:len(dev)-1], 10, 31)
	if err != nil {
		return "", 0, false
	}
	return dev[:i], int(n), true
}

func (c *conn) DomainSetBlockThreshold(h driver.Domain, dev string, threshold uint64, flags uint32) error {
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainSetBlockThreshold")
	}
	return c.withJob(h, "set block threshold", func(v *vm, mon monitor) error {
		live, _, _ := liveSnapshot(v)
		if live == nil {
			return errNotRunning()
		}
		_, src, err := sourceByDevstr(live, dev)
		if err != nil {
			return err
		}
		if src.Type == "vhostuser" {
			return errQEMU(virerr.ErrOperationUnsupported, "%s", "setting device threshold is not supported for vhostuser disk")
		}
		node := src.NodeName
		if node == "" {
			node = src.NodeNameFormat
		}
		if err := mon.Execute(hotplugCtx(), "block-set-write-threshold",
			map[string]any{"node-name": node, "write-threshold": threshold}, nil); err != nil {
			return qmpError(err)
		}
		v.mu.Lock()
		if v.ext.thresholdIndexed == nil {
			v.ext.thresholdIndexed = map[string]bool{}
		}
		v.ext.thresholdIndexed[node] = strings.Contains(dev, "[")
		v.mu.Unlock()
		return nil
	})
}

// blockThresholdReached turns QEMU's event into libvirt's events.
func (d *Driver) blockThresholdReached(v *vm, ev *qmp.BlockWriteThresholdEvent) {
	v.mu.Lock()
	live := v.live
	indexed := v.ext.thresholdIndexed[ev.NodeName]
	v.mu.Unlock()
	if live == nil {
		return
	}
	for _, disk := range live.Devices.Disks {
		for i, l := range layersOf(&disk.Source) {
			if l.NodeName != ev.NodeName && (l.NodeName != "" || l.NodeNameFormat != ev.NodeName) {
				continue
			}
			// virStorageSourceIsLocalStorage: file, block and dir images.
			path := ""
			if l.Type == "file" || l.Type == "block" || l.Type == "dir" {
				path = l.Path
			}
			p := driver.BlockThreshold{Path: path, Threshold: ev.WriteThreshold, Excess: ev.AmountExceeded}
			if i == 0 && !indexed {
				p.Dev = disk.TargetDev
				d.publishDomain(v, driver.EventIDBlockThreshold, p)
			}
			if idx := layerIndex(l); idx > 0 {
				p.Dev = disk.TargetDev + "[" + strconv.Itoa(idx) + "]"
				d.publishDomain(v, driver.EventIDBlockThreshold, p)
			}
			return
		}
	}
}
