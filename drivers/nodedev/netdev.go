package nodedev

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// ifStates are virNetDevIfState's names (operstate values); index 0 is
// "no state".
var ifStates = []string{"", "unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"}

var errLink = errors.New("link info")

// LinkInfo is virNetDevGetLinkInfo: operstate and, for an interface
// that is up, its speed (a "-1" speed wraps to 4294967295 as libvirt's
// parser makes it). root is the filesystem root ("/" on a host).
func LinkInfo(root, ifname string) (state string, speed uint, err error) {
	f := fsys{root}
	b, err := f.readFile("/sys/class/net/" + ifname + "/operstate")
	if err != nil {
		return "", 0, err
	}
	s, _, ok := strings.Cut(string(b), "\n")
	if !ok {
		return "", 0, errLink
	}
	known := false
	for i, n := range ifStates {
		if i > 0 && n == s {
			known = true
		}
	}
	if !known {
		return "", 0, errLink
	}
	if s != "up" {
		return s, 0, nil
	}
	b, err = f.readFile("/sys/class/net/" + ifname + "/speed")
	if err != nil {
		return s, 0, nil // drivers without a speed answer EINVAL
	}
	v, ok := parseUint(strings.TrimSuffix(string(b), "\n"), 10, 32)
	if !ok || !strings.HasSuffix(string(b), "\n") {
		return "", 0, errLink
	}
	return s, uint(v), nil
}

// refreshNet is the net part of virNodeDeviceUpdateCaps.
func (m *Manager) refreshNet(c *NetCap) error {
	if !validName(c.Ifname) {
		return errLink
	}
	st, sp, err := LinkInfo(m.fs.root, c.Ifname)
	if err != nil {
		return err
	}
	c.State, c.Speed = st, sp
	c.Features = m.features(c.Ifname)
	return nil
}

// ethtool requests (linux/ethtool.h).
const (
	siocEthtool      = 0x8946
	ethtoolGRXCSUM   = 0x14
	ethtoolGTXCSUM   = 0x16
	ethtoolGSG       = 0x18
	ethtoolGTSO      = 0x1e
	ethtoolGGSO      = 0x23
	ethtoolGFLAGS    = 0x25
	ethtoolGGRO      = 0x2b
	ethtoolGFEATURES = 0x3a
	ethFlagTXVLAN    = 1 << 7
	ethFlagRXVLAN    = 1 << 8
	ethFlagLRO       = 1 << 15
	ethFlagNTUPLE    = 1 << 27
	ethFlagRXHASH    = 1 << 28
	txUDPTnlBit      = 25
)

// ethtoolFeatures is virNetDevGetFeatures: the offloads the legacy
// ethtool getters and the flags report, the UDP tunnel offload of
// ETHTOOL_GFEATURES and RDMA (an InfiniBand device on the same PCI
// resources), in libvirt's order. switchdev (a devlink netlink query) is
// not reported.
func ethtoolFeatures(root, ifname string) []string {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var out []string
	value := func(cmd uint32) (uint32, bool) {
		buf := make([]uint32, 2)
		buf[0] = cmd
		ok := ethtoolIoctl(fd, ifname, unsafe.Pointer(&buf[0]))
		runtime.KeepAlive(buf)
		return buf[1], ok
	}
	for _, g := range []struct {
		cmd  uint32
		name string
	}{{ethtoolGRXCSUM, "rx"}, {ethtoolGTXCSUM, "tx"}, {ethtoolGSG, "sg"}, {ethtoolGTSO, "tso"}, {ethtoolGGSO, "gso"}, {ethtoolGGRO, "gro"}} {
		if v, ok := value(g.cmd); ok && v > 0 {
			out = append(out, g.name)
		}
	}
	if v, ok := value(ethtoolGFLAGS); ok && v > 0 {
		for _, fl := range []struct {
			bit  uint32
			name string
		}{{ethFlagLRO, "lro"}, {ethFlagRXVLAN, "rxvlan"}, {ethFlagTXVLAN, "txvlan"}, {ethFlagNTUPLE, "ntuple"}, {ethFlagRXHASH, "rxhash"}} {
			if v&fl.bit != 0 {
				out = append(out, fl.name)
			}
		}
	}
	if rdma(root, ifname) {
		out = append(out, "rdma")
	}
	// struct ethtool_gfeatures: cmd, size, then size blocks of
	// {available, requested, active, never_changed}.
	g := make([]uint32, 2+4*2)
	g[0], g[1] = ethtoolGFEATURES, 2
	if ethtoolIoctl(fd, ifname, unsafe.Pointer(&g[0])) {
		if g[2+4*(txUDPTnlBit/32)+2]&(1<<(txUDPTnlBit%32)) != 0 {
			out = append(out, "txudptnl")
		}
	}
	runtime.KeepAlive(g)
	return out
}

// ethtoolIoctl sends one SIOCETHTOOL request with data as ifr_data.
func ethtoolIoctl(fd int, ifname string, data unsafe.Pointer) bool {
	// struct ifreq: IFNAMSIZ name, then the union whose first member
	// here is the data pointer.
	var ifr [40]byte
	if len(ifname) >= 16 {
		return false
	}
	copy(ifr[:], ifname)
	*(*uintptr)(unsafe.Pointer(&ifr[16])) = uintptr(data)
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocEthtool, uintptr(unsafe.Pointer(&ifr[0])))
	return e == 0
}

// rdma is virNetDevRDMAFeature.
func rdma(root, ifname string) bool {
	f := fsys{root}
	if !f.exists("/sys/class/infiniband") {
		return false
	}
	res, err := f.readFile("/sys/class/net/" + ifname + "/device/resource")
	if err != nil {
		return false
	}
	m := &Manager{fs: f}
	for _, ib := range m.dirNames("/sys/class/infiniband") {
		if b, err := f.readFile("/sys/class/infiniband/" + ib + "/device/resource"); err == nil && len(b) > 0 && string(b) == string(res) {
			return true
		}
	}
	return false
}
