package qemu

import (
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/storage"
	"govirt/virerr"
)

// DomainGetBlockInfo reports an image's sizes from its header and the host
// file: a disk name gives its top image, "vda[N]" the image with index N.
func (c *conn) DomainGetBlockInfo(h driver.Domain, diskArg string, _ uint32) (driver.BlockInfo, error) {
	var bi driver.BlockInfo
	v, err := c.d.doms.get(h)
	if err != nil {
		return bi, err
	}
	v.mu.Lock()
	disk, layer, err := findDisk(v.current(), diskArg, func(a string) error {
		return errQEMU(virerr.ErrInvalidArg, "invalid path %s not assigned to domain", a)
	})
	var path, format string
	var byFD bool
	if err == nil {
		path, format = layer.Path, layer.Format
		byFD = command.LayerFDGroup(disk, &disk.Source) != ""
	}
	v.mu.Unlock()
	if err != nil {
		return bi, err
	}
	if path == "" {
		return bi, errQEMU(virerr.ErrInvalidArg, "disk '%s' does not currently have a source assigned", diskArg)
	}
	if byFD {
		return bi, errQEMU(virerr.ErrOperationUnsupported, "%s", "block info is not supported for FD passed disk image")
	}
	if format == "" {
		format = "raw"
	}
	info, err := storage.ProbeFileAs(path, format)
	if err != nil {
		return bi, errQEMU(virerr.ErrSystemError, "cannot read '%s': %v", path, err)
	}
	bi.Capacity, bi.Allocation, bi.Physical = info.VirtualSize, info.Allocation, info.PhysicalSize
	if format == "raw" && bi.Capacity == 0 {
		bi.Capacity = info.PhysicalSize
	}
	return bi, nil
}
