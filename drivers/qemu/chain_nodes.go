package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/qmp"
	"govirt/virerr"
)

// addImageNodes plugs one new image into QEMU as a storage node and a
// format node named after its index, the way the command builder does at
// start. backing is the format node below it; "" adds it without one
// (backing: null), which blockdev-snapshot and a full copy want.
func addImageNodes(ctx context.Context, mon monitor, s *conf.DiskSource, backing string) error {
	drv := "file"
	if s.Type == "block" {
		drv = "host_device"
	}
	storageArgs := map[string]any{
		"driver": drv, "filename": s.Path, "node-name": s.NodeName,
		"auto-read-only": true, "discard": "unmap",
	}
	if err := qmp.BlockdevAdd(ctx, mon, storageArgs); err != nil {
		return qmpCommandError("blockdev-add", err)
	}
	format := s.Format
	if format == "" {
		format = "raw"
	}
	fmtArgs := map[string]any{
		"node-name": s.NodeNameFormat, "read-only": false,
		"driver": format, "file": s.NodeName,
	}
	if format != "raw" {
		if backing == "" {
			fmtArgs["backing"] = nil
		} else {
			fmtArgs["backing"] = backing
		}
	}
	if err := qmp.BlockdevAdd(ctx, mon, fmtArgs); err != nil {
		_ = qmp.BlockdevDel(ctx, mon, s.NodeName)
		return qmpCommandError("blockdev-add", err)
	}
	return nil
}

// nodeVirtualSize asks QEMU for the guest-visible size of a format node.
func nodeVirtualSize(ctx context.Context, mon monitor, node string) (uint64, error) {
	nodes, err := qmp.QueryNamedBlockNodes(ctx, mon)
	if err != nil {
		return 0, qmpCommandError("query-named-block-nodes", err)
	}
	for _, n := range nodes {
		if n.NodeName == node {
			return n.Image.VirtualSize, nil
		}
	}
	return 0, errQEMU(virerr.ErrInternalError, "block node '%s' not found", node)
}

// createImage makes a new image file with qemu-img. With a backing image
// the size still comes from the caller and -u keeps qemu-img from
// opening the backing file, which the running QEMU holds locked.
func createImage(path, format string, size uint64, backing, backingFormat string) error {
	if format == "" {
		format = "raw"
	}
	if format == "raw" && backing == "" {
		if done, err := createRawImage(path, size); done {
			return err
		}
	}
	args := []string{"create", "-q", "-f", format}
	if backing != "" {
		args = append(args, "-u", "-b", backing, "-F", backingFormat)
	}
	args = append(args, path, strconv.FormatUint(size, 10))
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		return errQEMU(virerr.ErrOperationFailed, "cannot create image '%s': %s", path,
			strings.TrimSpace(fmt.Sprintf("%v %s", err, out)))
	}
	return nil
}

// createRawImage makes a new raw file the way qemu-img create -f raw
// does (sized, sparse, with its first block written), without starting
// a process: a block copy waits for it, and starting qemu-img took from
// 15 ms to a second on a loaded host, where libvirt has QEMU do it
// (blockdev-create). A path that exists already is left to qemu-img,
// whose image lock refuses to clobber a file a guest is using; done is
// false then.
func createRawImage(path string, size uint64) (done bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	fail := func(err error) (bool, error) {
		return true, errQEMU(virerr.ErrOperationFailed, "cannot create image '%s': %v", path, err)
	}
	if err != nil {
		return fail(err)
	}
	if err = f.Truncate(int64(size)); err == nil && size > 0 {
		// QEMU allocates the first block so that O_DIRECT alignment
		// probing reads real data.
		_, err = f.WriteAt(make([]byte, min(size, 4096)), 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fail(err)
	}
	return true, nil
}

// newImageSource describes a new image joining a chain with a fresh index
// and the node names that go with it; call with v.mu held.
func newImageSource(v *vm, typ, path, format string) conf.DiskSource {
	idx := allocIndex(v)
	sn, fn := nodeNames(idx)
	if typ == "" {
		typ = "file"
	}
	return conf.DiskSource{Type: typ, Path: path, Format: format, Index: idx, NodeName: sn, NodeNameFormat: fn}
}

// fileExists reports whether path exists (any type).
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
