package qemu

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// Memory and block peeks (virDomainMemoryPeek, virDomainBlockPeek) and
// block resize, as libvirt's QEMU driver answers them.

// virDomainMemoryFlags.
const (
	memoryVirtual  = 1 << 0
	memoryPhysical = 1 << 1
)

// blockResizeBytes is VIR_DOMAIN_BLOCK_RESIZE_BYTES.
const blockResizeBytes = 1 << 0

// DomainMemoryPeek has QEMU write the range to a private temporary file
// (memsave or pmemsave, as libvirt) and returns its content.
func (c *conn) DomainMemoryPeek(h driver.Domain, offset uint64, size uint32, flags uint32) ([]byte, error) {
	if err := checkFlagsMask(flags, memoryVirtual|memoryPhysical, "qemuDomainMemoryPeek"); err != nil {
		return nil, err
	}
	if flags != memoryVirtual && flags != memoryPhysical {
		return nil, errQEMU(virerr.ErrInvalidArg, "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL")
	}
	var out []byte
	err := c.withJob(h, "memory peek", func(v *vm, mon monitor) error {
		dir := filepath.Join(c.d.cfg.RunDir, "qemu")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return errQEMU(virerr.ErrSystemError, "cannot create %s: %v", dir, err)
		}
		f, err := os.CreateTemp(dir, "qemu.mem.")
		if err != nil {
			return errQEMU(virerr.ErrSystemError, "g_mkstemp(\"%s/qemu.mem.XXXXXX\") failed: %v", dir, err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		cmd := "memsave"
		if flags == memoryPhysical {
			cmd = "pmemsave"
		}
		args := struct {
			Val      uint64 `json:"val"`
			Size     uint64 `json:"size"`
			Filename string `json:"filename"`
		}{offset, uint64(size), f.Name()}
		if err := mon.Execute(context.Background(), cmd, args, nil); err != nil {
			return qmpError(err)
		}
		out = make([]byte, size)
		n, err := io.ReadFull(f, out)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return errQEMU(virerr.ErrSystemError, "failed to read temporary file created with template %s/qemu.mem.XXXXXX: %v", dir, err)
		}
		// saferead of a short file leaves the rest of the caller's
		// buffer as it was: zeroes on the wire.
		_ = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DomainBlockPeek reads a raw disk's image directly, as libvirt's
// virStorageSourceRead: only an image the guest's definition names as one
// of its disks is ever opened, so a client cannot read arbitrary host
// files through it.
func (c *conn) DomainBlockPeek(h driver.Domain, path string, offset uint64, size uint32, flags uint32) ([]byte, error) {
	if err := checkFlagsMask(flags, 0, "qemuDomainBlockPeek"); err != nil {
		return nil, err
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	def := v.current()
	v.mu.Unlock()
	disk := diskByName(def, path)
	if disk == nil {
		return nil, errDiskNotFound(path)
	}
	src := disk.Source
	if src.Type == "vhostuser" {
		return nil, errQEMU(virerr.ErrOperationUnsupported, "peeking is not supported for vhostuser disk")
	}
	if src.Format != "raw" {
		f := src.Format
		if f == "" {
			f = "none"
		}
		return nil, errQEMU(virerr.ErrOperationUnsupported, "peeking is only supported for disk with 'raw' format not '%s'", f)
	}
	if command.LayerFDGroup(disk, &disk.Source) != "" {
		return nil, errQEMU(virerr.ErrOperationUnsupported, "%s", "peeking is not supported for FD passed images")
	}
	if src.Type != "file" && src.Type != "block" {
		proto := src.Protocol
		if proto == "" {
			proto = "none"
		}
		return nil, errQEMU(virerr.ErrInternalError, "storage file reading is not supported for storage type %s (protocol: %s)", src.Type, proto)
	}
	if src.Path == "" {
		return nil, errQEMU(virerr.ErrInternalError, "storage file backend not initialized")
	}
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrSystemError, "Failed to open file '%s': %s", src.Path, errnoText(err))
	}
	defer f.Close()
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, int64(offset))
	if err != nil && err != io.EOF {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrSystemError, "cannot read header '%s': %s", src.Path, errnoText(err))
	}
	if n < int(size) {
		return nil, errQEMU(virerr.ErrInvalidArg, "'%s' starting from %d has only %d bytes available", path, offset, n)
	}
	return buf, nil
}

// errnoText is the strerror text of a file error, capitalised as glib's.
func errnoText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// DomainBlockResize is qemuDomainBlockResize: block_resize on the disk's
// format node.
func (c *conn) DomainBlockResize(h driver.Domain, path string, size uint64, flags uint32) error {
	if err := checkFlagsMask(flags, blockResizeBytes, "qemuDomainBlockResize"); err != nil {
		return err
	}
	if flags&blockResizeBytes == 0 {
		const max = ^uint64(0) / 1024
		if size > max {
			return errQEMU(virerr.ErrOverflow, "size must be less than %d", max)
		}
		size *= 1024
	}
	return c.withJob(h, "block resize", func(v *vm, mon monitor) error {
		v.mu.Lock()
		live := v.live
		v.mu.Unlock()
		if live == nil {
			return errNotRunning()
		}
		disk := diskByName(live, path)
		if disk == nil {
			return errQEMU(virerr.ErrInvalidArg, "disk '%s' was not found in the domain config", path)
		}
		if disk.Source.Type == "vhostuser" {
			return errQEMU(virerr.ErrOperationUnsupported, "block resize is not supported for vhostuser disk")
		}
		if f := disk.Source.Format; f == "qcow2" || f == "qed" {
			size = (size + 511) &^ 511
		}
		empty := disk.Source.Type == "" || (disk.Source.Path == "" && disk.Source.Type != "network" && disk.Source.Type != "nvme")
		if empty || disk.ReadOnly {
			return errQEMU(virerr.ErrOperationUnsupported, "can't resize empty or readonly disk '%s'", disk.TargetDev)
		}
		node := disk.Source.NodeNameFormat
		if node == "" {
			node = disk.Source.NodeName
		}
		args := struct {
			NodeName string `json:"node-name"`
			Size     uint64 `json:"size"`
		}{node, size}
		if err := mon.Execute(context.Background(), "block_resize", args, nil); err != nil {
			return qmpError(err)
		}
		return nil
	})
}

// The connection answers the calls of driver/domain_files.go.
var (
	_ driver.DomainBlockResizer      = (*conn)(nil)
	_ driver.DomainRenamer           = (*conn)(nil)
	_ driver.DomainCoreDumper        = (*conn)(nil)
	_ driver.DomainSaveImages        = (*conn)(nil)
	_ driver.DomainManagedSaveImages = (*conn)(nil)
	_ driver.DomainMemoryPeeker      = (*conn)(nil)
	_ driver.DomainBlockPeeker       = (*conn)(nil)
	_ driver.DomainAliasDetacher     = (*conn)(nil)
)
