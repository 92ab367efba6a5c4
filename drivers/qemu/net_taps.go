package qemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// Taps of bridge, network and ethernet interfaces are made by the driver
// before QEMU starts, as libvirt's virNetDevTapCreateInBridgePort: the
// tap is created (vnetN unless named), its host-side MAC is the guest's
// with the first byte 0xfe, it joins its bridge and goes up, and QEMU
// gets its descriptors (one per queue) and, for virtio NICs, vhost-net
// descriptors. The taps are not persistent: they vanish when QEMU, the
// last holder of their descriptors, exits. A tap with managed='no'
// exists already and is only opened.

const (
	iffTap        = 0x0002
	iffNoPI       = 0x1000
	iffVnetHdr    = 0x4000
	iffMultiQueue = 0x0100
	tunSetIff     = 0x400454ca
	ifNameSize    = 16
)

// tunOpen opens /dev/net/tun attached to the tap name (a kernel name
// template such as "vnet%d" picks the first free number) and returns the
// descriptor and the tap's actual name.
func tunOpen(name string, flags uint16) (*os.File, string, error) {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return nil, "", err
	}
	var req [40]byte // struct ifreq: name, then flags
	copy(req[:ifNameSize-1], name)
	*(*uint16)(unsafe.Pointer(&req[ifNameSize])) = flags
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), tunSetIff, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		f.Close()
		return nil, "", e
	}
	got := string(req[:ifNameSize])
	if i := strings.IndexByte(got, 0); i >= 0 {
		got = got[:i]
	}
	return f, got, nil
}

// ipLink runs ip(8) on a tap.
func ipLink(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// openTap is Paths.OpenTap: it creates and sets up a tap and adds its
// descriptors to files.
func openTap(files *passedFiles, dir string) func(command.TapRequest) (command.TapResult, error) {
	return func(r command.TapRequest) (command.TapResult, error) {
		if r.Macvtap {
			return openMacvtap(files, dir, r)
		}
		flags := uint16(iffTap | iffNoPI)
		if r.VnetHdr {
			flags |= iffVnetHdr
		}
		if r.Queues > 1 {
			flags |= iffMultiQueue
		}
		name := r.IfName
		if name == "" {
			name = "vnet%d"
		}
		var fds []*os.File
		fail := func(err error) (command.TapResult, error) {
			for _, f := range fds {
				f.Close()
			}
			return command.TapResult{}, err
		}
		for i := 0; i < max(r.Queues, 1); i++ {
			f, got, err := tunOpen(name, flags)
			if err != nil {
				if r.Managed {
					return fail(errQEMU(virerr.ErrSystemError, "Unable to create tap device %s: %v", strings.ReplaceAll(name, "%d", "N"), err))
				}
				return fail(errQEMU(virerr.ErrSystemError, "Unable to open tap device %s: %v", name, err))
			}
			fds = append(fds, f)
			name = got // the other queues open the same tap
		}
		if r.Managed {
			if err := setupNewTap(name, r); err != nil {
				return fail(errQEMU(virerr.ErrSystemError, "cannot set up tap device '%s': %v", name, err))
			}
		}
		res := command.TapResult{IfName: name}
		for _, f := range fds {
			res.FDs = append(res.FDs, files.add(f))
		}
		return res, nil
	}
}

// setupNewTap gives a new tap its host-side MAC and MTU, enslaves it to
// its bridge, brings it up and runs the interface's script.
func setupNewTap(name string, r command.TapRequest) error {
	if mac, err := net.ParseMAC(r.MAC); err == nil && len(mac) == 6 {
		mac[0] = 0xfe // never the lowest MAC on the bridge
		if err := ipLink("link", "set", "dev", name, "address", mac.String()); err != nil {
			return err
		}
	}
	if r.MTU > 0 {
		if err := ipLink("link", "set", "dev", name, "mtu", strconv.Itoa(r.MTU)); err != nil {
			return err
		}
	}
	if r.Bridge != "" {
		if err := ipLink("link", "set", "dev", name, "master", r.Bridge); err != nil {
			return err
		}
	}
	if r.CoalesceRxFrames != nil {
		if err := setCoalesce(name, *r.CoalesceRxFrames); err != nil {
			return fmt.Errorf("cannot set coalesce info on interface '%s': %v", name, err)
		}
	}
	if err := ipLink("link", "set", "dev", name, "up"); err != nil {
		return err
	}
	if r.Script != "" {
		out, err := exec.Command(r.Script, name).CombinedOutput()
		if err != nil {
			return fmt.Errorf("script %s: %v: %s", r.Script, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// openVhostNet is Paths.OpenVhostNet: /dev/vhost-net once per queue.
func openVhostNet(files *passedFiles) func(int) ([]int, error) {
	return func(queues int) ([]int, error) {
		var fs []*os.File
		for i := 0; i < max(queues, 1); i++ {
			f, err := os.OpenFile("/dev/vhost-net", os.O_RDWR, 0)
			if err != nil {
				for _, f := range fs {
					f.Close()
				}
				if errors.Is(err, os.ErrNotExist) {
					return nil, errQEMU(virerr.ErrConfigUnsupported, "vhost-net was requested for an interface, but is unsupported")
				}
				return nil, errQEMU(virerr.ErrSystemError, "Unable to open vhost-net: %v", err)
			}
			fs = append(fs, f)
		}
		var out []int
		for _, f := range fs {
			out = append(out, files.add(f))
		}
		return out, nil
	}
}

// setLinkStates applies <link state='down'/> with set_link before the
// vCPUs run (libvirt's qemuProcessSetLinkStates): QEMU starts every NIC
// with its link up.
func (d *Driver) setLinkStates(v *vm) {
	v.mu.Lock()
	mon, live, name := v.mon, v.live, v.name
	v.mu.Unlock()
	if mon == nil || live == nil {
		return
	}
	for _, alias := range command.NetLinkDown(live) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := mon.Execute(ctx, "set_link", map[string]any{"name": alias, "up": false}, nil)
		cancel()
		if err != nil {
			d.log.Warn("Couldn't set link state on interface", "domain", name, "interface", alias, "err", err)
		}
	}
}

// macvtapRecordFile lists, in DomainDir, the macvtap devices the driver
// created for the guest: unlike taps they outlive QEMU and are deleted
// when the guest stops.
const macvtapRecordFile = "macvtap.list"

// openMacvtap creates a macvtap device on r.Link (libvirt's
// virNetDevMacVLanCreateWithVPortProfile: name macvtapN, the guest's MAC,
// the source mode), brings it up and opens its character device once per
// queue.
func openMacvtap(files *passedFiles, dir string, r command.TapRequest) (command.TapResult, error) {
	if _, err := os.Stat("/sys/class/net/" + r.Link); err != nil {
		return command.TapResult{}, errQEMU(virerr.ErrSystemError, "Unable to get index for interface %s: %v", r.Link, err)
	}
	mode := r.Mode
	if mode == "passthrough" {
		mode = "passthru"
	}
	name := ""
	for i := 0; i < 256 && name == ""; i++ {
		cand := "macvtap" + strconv.Itoa(i)
		if _, err := os.Stat("/sys/class/net/" + cand); err == nil {
			continue
		}
		args := []string{"link", "add", "link", r.Link, "name", cand}
		if _, err := net.ParseMAC(r.MAC); err == nil {
			args = append(args, "address", r.MAC)
		}
		args = append(args, "type", "macvtap", "mode", mode)
		if err := ipLink(args...); err != nil {
			if _, serr := os.Stat("/sys/class/net/" + cand); serr == nil {
				continue // taken meanwhile
			}
			return command.TapResult{}, errQEMU(virerr.ErrSystemError, "error creating macvtap interface %s@%s: %v", cand, r.Link, err)
		}
		name = cand
	}
	if name == "" {
		return command.TapResult{}, errQEMU(virerr.ErrInternalError, "no free macvtap device name")
	}
	rec, _ := os.OpenFile(filepath.Join(dir, macvtapRecordFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if rec != nil {
		rec.WriteString(name + "\n")
		rec.Close()
	}
	fail := func(err error) (command.TapResult, error) {
		_ = ipLink("link", "del", name)
		return command.TapResult{}, err
	}
	if err := ipLink("link", "set", "dev", name, "up"); err != nil {
		return fail(errQEMU(virerr.ErrSystemError, "cannot set up macvtap device '%s': %v", name, err))
	}
	var fs []*os.File
	for i := 0; i < max(r.Queues, 1); i++ {
		f, err := openMacvtapDev(dir, name)
		if err == nil {
			flags := uint16(iffTap | iffNoPI)
			if r.VnetHdr {
				flags |= iffVnetHdr
			}
			if r.Queues > 1 {
				flags |= iffMultiQueue
			}
			err = tunSetFlags(f, flags)
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			for _, f := range fs {
				f.Close()
			}
			return fail(errQEMU(virerr.ErrSystemError, "cannot open macvtap tap device for '%s': %v", name, err))
		}
		fs = append(fs, f)
	}
	res := command.TapResult{IfName: name}
	for _, f := range fs {
		res.FDs = append(res.FDs, files.add(f))
	}
	return res, nil
}

// openMacvtapDev opens /dev/tapIFINDEX; where no udev made the node (a
// container), a private node is made from the device numbers sysfs gives.
func openMacvtapDev(dir, name string) (*os.File, error) {
	idx, err := os.ReadFile("/sys/class/net/" + name + "/ifindex")
	if err != nil {
		return nil, err
	}
	tap := "tap" + strings.TrimSpace(string(idx))
	if f, err := os.OpenFile("/dev/"+tap, os.O_RDWR, 0); err == nil {
		return f, nil
	}
	devnum, err := os.ReadFile("/sys/class/net/" + name + "/macvtap/" + tap + "/dev")
	if err != nil {
		return nil, err
	}
	var major, minor uint32
	if _, err := fmt.Sscanf(strings.TrimSpace(string(devnum)), "%d:%d", &major, &minor); err != nil {
		return nil, err
	}
	node := filepath.Join(dir, tap)
	os.Remove(node)
	if err := syscall.Mknod(node, syscall.S_IFCHR|0o600, int(major<<8|minor&0xff|(minor&^0xff)<<12)); err != nil {
		return nil, err
	}
	defer os.Remove(node)
	return os.OpenFile(node, os.O_RDWR, 0)
}

// tunSetFlags sets the flags of an open tap/macvtap descriptor.
func tunSetFlags(f *os.File, flags uint16) error {
	var req [40]byte
	*(*uint16)(unsafe.Pointer(&req[ifNameSize])) = flags
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), tunSetIff, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		return e
	}
	return nil
}

// deleteMacvtaps deletes the macvtap devices recorded in dir.
func deleteMacvtaps(dir string) {
	path := filepath.Join(dir, macvtapRecordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for _, name := range strings.Fields(string(data)) {
		if strings.HasPrefix(name, "macvtap") && !strings.ContainsAny(name, "/ ") {
			_ = ipLink("link", "del", name)
		}
	}
	os.Remove(path)
}

// setCoalesce sets a tap's rx-frames coalescing through SIOCETHTOOL
// (ETHTOOL_SCOALESCE with struct ethtool_coalesce: cmd and 22 values,
// rx_max_coalesced_frames the third), as libvirt's virNetDevSetCoalesce.
func setCoalesce(name string, rxFrames uint32) error {
	const siocEthtool, ethtoolSCoalesce = 0x8946, 0x0f
	// On the heap, where it does not move, and kept alive across the
	// call: the kernel reads it through the pointer inside req.
	coal := new([23]uint32)
	coal[0] = ethtoolSCoalesce
	coal[2] = rxFrames
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var req [40]byte // struct ifreq: name, then the data pointer
	copy(req[:ifNameSize-1], name)
	*(*uintptr)(unsafe.Pointer(&req[ifNameSize])) = uintptr(unsafe.Pointer(&coal[0]))
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocEthtool, uintptr(unsafe.Pointer(&req[0])))
	runtime.KeepAlive(coal)
	if e != 0 {
		return e
	}
	return nil
}
