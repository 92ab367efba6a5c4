package nwfilter

import (
	"encoding/binary"
	"net"
	"syscall"
	"time"
)

// libvirt's own IP address learning (nwfilter_learnipaddr.c), for NICs
// whose address govirt's DHCP leases do not know (a host bridge with an
// outside DHCP server, a static address): the frames on the guest's tap
// are read from an AF_PACKET socket. With CTRL_IP_LEARNING='dhcp' only a
// DHCP OFFER or ACK from a server to the guest's MAC counts; with 'any'
// also the source address of the first IPv4 packet the guest sends
// (neither 0.0.0.0 nor multicast or class E), as libvirt. (libvirt's
// code has an ARP case that its frame-type check never reaches, so ARP
// teaches nothing there and nothing here.)

// Detection kinds, libvirt's DETECT_DHCP and DETECT_STATIC.
const (
	detectDHCP   = 1
	detectStatic = 2
)

// frameIP is the address one Ethernet frame teaches about the guest with
// MAC mac, or "" (libvirt's loop body in learnIPAddressThread).
func frameIP(frame []byte, mac [6]byte, howDetect int) string {
	if len(frame) < 14 {
		return ""
	}
	hdr := 14
	etype := binary.BigEndian.Uint16(frame[12:14])
	if etype == 0x8100 { // a VLAN tag: only IPv4 inside counts
		if len(frame) < 18 || binary.BigEndian.Uint16(frame[16:18]) != 0x0800 {
			return ""
		}
		hdr, etype = 18, 0x0800
	}
	if etype != 0x0800 || len(frame) < hdr+20 {
		return ""
	}
	ip := frame[hdr:]
	var dst, src [6]byte
	copy(dst[:], frame[0:6])
	copy(src[:], frame[6:12])
	switch {
	case src == mac:
		addr := binary.BigEndian.Uint32(ip[12:16])
		if addr == 0 || addr&0xe0000000 == 0xe0000000 || howDetect&detectStatic == 0 {
			return ""
		}
		return net.IP(ip[12:16]).String()
	case dst == mac || dst == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
		if howDetect&detectDHCP == 0 || ip[9] != 17 {
			return ""
		}
		ihl := int(ip[0]&0x0f) * 4
		// UDP header, then struct dhcp (236 fixed bytes and the 4-byte
		// magic cookie) before the options.
		if ihl < 20 || len(ip) < ihl+8+240 {
			return ""
		}
		udp := ip[ihl:]
		if binary.BigEndian.Uint16(udp[0:2]) != 67 || binary.BigEndian.Uint16(udp[2:4]) != 68 {
			return ""
		}
		d := udp[8:]
		if d[0] != 2 || [6]byte(d[28:34]) != mac { // BOOTREPLY to the guest
			return ""
		}
		yiaddr := d[16:20]
		for opts := d[240:]; len(opts) >= 2; {
			code, l := opts[0], int(opts[1])
			if code == 53 && len(opts) >= 3 && (opts[2] == 2 || opts[2] == 5) { // OFFER, ACK
				return net.IP(yiaddr).String()
			}
			if code == 0 { // a pad byte has no length
				opts = opts[1:]
				continue
			}
			if code == 255 || len(opts) < 2+l {
				break
			}
			opts = opts[2+l:]
		}
	}
	return ""
}

// htons is a port number in network order, for AF_PACKET.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// SniffIP (Config.SniffIP) reads the frames of port until one teaches the guest's
// address, stop is closed, or the port goes; ok is false without an
// address.
func SniffIP(port string, mac [6]byte, howDetect int, stop <-chan struct{}) (string, bool) {
	ifi, err := net.InterfaceByName(port)
	if err != nil {
		return "", false
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		return "", false
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return "", false
	}
	// A receive timeout lets the loop see stop.
	tv := syscall.NsecToTimeval(int64(250 * time.Millisecond))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	buf := make([]byte, 65536)
	for {
		select {
		case <-stop:
			return "", false
		default:
		}
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			return "", false // the port went
		}
		if ip := frameIP(buf[:n], mac, howDetect); ip != "" {
			return ip, true
		}
	}
}
