package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"govirt/conf"
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
	if err := mon.Execute(ctx, "blockdev-add", storageArgs, nil); err != nil {
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
	if err := mon.Execute(ctx, "blockdev-add", fmtArgs, nil); err != nil {
		_ = mon.Execute(ctx, "blockdev-del", map[string]any{"node-name": s.NodeName}, nil)
		return qmpCommandError("blockdev-add", err)
	}
	return nil
}

// nodeVirtualSize asks QEMU for the guest-visible size of a format node.
func nodeVirtualSize(ctx context.Context, mon monitor, node string) (uint64, error) {
	var nodes []struct {
		NodeName string `json:"node-name"`
		Image    struct {
			VirtualSize uint64 `json:"virtual-size"`
		} `json:"image"`
	}
	if err := mon.Execute(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &nodes); err != nil {
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
