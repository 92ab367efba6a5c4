package nwfilter

import (
	"encoding/binary"
	"testing"
)

var sniffMAC = [6]byte{0x52, 0x54, 0, 0x11, 0x22, 0x33}

func ethFrame(dst, src [6]byte, etype uint16, payload []byte) []byte {
	f := append(append(dst[:], src[:]...), byte(etype>>8), byte(etype))
	return append(f, payload...)
}

func ipv4(src, dst [4]byte, proto byte, payload []byte) []byte {
	h := make([]byte, 20)
	h[0], h[9] = 0x45, proto
	binary.BigEndian.PutUint16(h[2:4], uint16(20+len(payload)))
	copy(h[12:16], src[:])
	copy(h[16:20], dst[:])
	return append(h, payload...)
}

// dhcpReply is a BOOTREPLY to chaddr offering yiaddr with message type mt.
func dhcpReply(chaddr [6]byte, yiaddr [4]byte, mt byte) []byte {
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:2], 67)
	binary.BigEndian.PutUint16(udp[2:4], 68)
	d := make([]byte, 240)
	d[0] = 2
	copy(d[16:20], yiaddr[:])
	copy(d[28:34], chaddr[:])
	copy(d[236:240], []byte{99, 130, 83, 99})
	d = append(d, 1, 4, 255, 255, 255, 0, 0, 53, 1, mt, 255)
	return append(udp, d...)
}

func TestFrameIP(t *testing.T) {
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	server := [6]byte{0x52, 0x54, 0, 0xaa, 0xbb, 0xcc}
	other := [6]byte{0x52, 0x54, 0, 9, 9, 9}
	any := detectDHCP | detectStatic
	for _, c := range []struct {
		name  string
		frame []byte
		how   int
		want  string
	}{
		{"guest's IPv4 source", ethFrame(server, sniffMAC, 0x0800, ipv4([4]byte{10, 0, 0, 5}, [4]byte{10, 0, 0, 1}, 1, nil)), any, "10.0.0.5"},
		{"guest's IPv4 source, dhcp only", ethFrame(server, sniffMAC, 0x0800, ipv4([4]byte{10, 0, 0, 5}, [4]byte{10, 0, 0, 1}, 1, nil)), detectDHCP, ""},
		{"DHCP discover from 0.0.0.0", ethFrame(bcast, sniffMAC, 0x0800, ipv4([4]byte{}, [4]byte{255, 255, 255, 255}, 17, nil)), any, ""},
		{"multicast source", ethFrame(bcast, sniffMAC, 0x0800, ipv4([4]byte{224, 0, 0, 1}, [4]byte{224, 0, 0, 1}, 17, nil)), any, ""},
		{"someone else's packet", ethFrame(server, other, 0x0800, ipv4([4]byte{10, 0, 0, 9}, [4]byte{10, 0, 0, 1}, 1, nil)), any, ""},
		{"DHCP ACK", ethFrame(sniffMAC, server, 0x0800, ipv4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 7}, 17, dhcpReply(sniffMAC, [4]byte{10, 0, 0, 7}, 5))), detectDHCP, "10.0.0.7"},
		{"broadcast DHCP OFFER", ethFrame(bcast, server, 0x0800, ipv4([4]byte{10, 0, 0, 1}, [4]byte{255, 255, 255, 255}, 17, dhcpReply(sniffMAC, [4]byte{10, 0, 0, 8}, 2))), detectDHCP, "10.0.0.8"},
		{"DHCP NAK", ethFrame(sniffMAC, server, 0x0800, ipv4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 7}, 17, dhcpReply(sniffMAC, [4]byte{10, 0, 0, 7}, 6))), any, ""},
		{"DHCP ACK to another guest", ethFrame(bcast, server, 0x0800, ipv4([4]byte{10, 0, 0, 1}, [4]byte{255, 255, 255, 255}, 17, dhcpReply(other, [4]byte{10, 0, 0, 9}, 5))), any, ""},
		{"ARP", ethFrame(bcast, sniffMAC, 0x0806, make([]byte, 28)), any, ""},
		{"short", []byte{1, 2, 3}, any, ""},
		{"truncated DHCP", ethFrame(sniffMAC, server, 0x0800, ipv4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 7}, 17, dhcpReply(sniffMAC, [4]byte{10, 0, 0, 7}, 5)[:100])), any, ""},
	} {
		if got := frameIP(c.frame, sniffMAC, c.how); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// A VLAN-tagged guest packet.
	tagged := append([]byte{0, 5, 0x08, 0x00}, ipv4([4]byte{10, 0, 0, 6}, [4]byte{10, 0, 0, 1}, 1, nil)...)
	if got := frameIP(ethFrame(server, sniffMAC, 0x8100, tagged), sniffMAC, any); got != "10.0.0.6" {
		t.Errorf("VLAN: %q", got)
	}
}
