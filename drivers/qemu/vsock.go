package qemu

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// passedFiles are descriptors QEMU inherits after the monitor socket
// (fd 3): the first is fd 4. The parent's copies are closed once QEMU
// is spawned or the start failed.
type passedFiles struct{ files []*os.File }

// add returns the descriptor number f will have in QEMU.
func (p *passedFiles) add(f *os.File) int {
	p.files = append(p.files, f)
	return monitorFD + len(p.files)
}

// open opens path for QEMU (Paths.OpenFD): vhost-vdpa devices, TPM
// passthrough.
func (p *passedFiles) open(path string, flag int) (int, error) {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return 0, errQEMU(virerr.ErrSystemError, "Unable to open '%s': %v", path, err)
	}
	return p.add(f), nil
}

// reserve numbers a descriptor whose file is opened later (openHost).
func (p *passedFiles) reserve() int {
	p.files = append(p.files, nil)
	return monitorFD + len(p.files)
}

// openHost opens the files the builder numbered through reserve
// (chardev files, logs and listening sockets) into their places.
func (p *passedFiles) openHost(files []command.HostFile) error {
	for _, hf := range files {
		i := hf.FD - monitorFD - 1
		if i < 0 || i >= len(p.files) || p.files[i] != nil {
			return fmt.Errorf("descriptor %d of %s was not reserved", hf.FD, hf.Path)
		}
		f, err := command.OpenHostFile(hf)
		if err != nil {
			return err
		}
		p.files[i] = f
	}
	return nil
}

func (p *passedFiles) close() {
	for _, f := range p.files {
		if f != nil {
			f.Close()
		}
	}
	p.files = nil
}

// vhostVsockSetGuestCID is VHOST_VSOCK_SET_GUEST_CID, _IOW(0xAF, 0x60, __u64).
const vhostVsockSetGuestCID = 0x4008af60

// openVsock opens /dev/vhost-vsock and gives it the guest's CID, or with
// auto the first free one from 3 (libvirt's virVsockAcquireGuestCid).
func openVsock(files *passedFiles) func(cid uint32, auto bool) (int, uint32, error) {
	return func(cid uint32, auto bool) (int, uint32, error) {
		f, err := os.OpenFile("/dev/vhost-vsock", os.O_RDWR, 0)
		if err != nil {
			return 0, 0, errQEMU(virerr.ErrConfigUnsupported, "unable to open vhost-vsock device")
		}
		set := func(c uint32) error {
			v := uint64(c)
			_, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), vhostVsockSetGuestCID, uintptr(unsafe.Pointer(&v)))
			if e != 0 {
				return e
			}
			return nil
		}
		if auto {
			if cid < 3 {
				cid = 3
			}
			for ; ; cid++ {
				err := set(cid)
				if err == nil {
					break
				}
				if !errors.Is(err, syscall.EADDRINUSE) || cid == ^uint32(0) {
					f.Close()
					return 0, 0, errQEMU(virerr.ErrSystemError, "failed to acquire guest CID: %v", err)
				}
			}
		} else if err := set(cid); err != nil {
			f.Close()
			return 0, 0, errQEMU(virerr.ErrSystemError, "failed to set guest cid: %v", err)
		}
		return files.add(f), cid, nil
	}
}
