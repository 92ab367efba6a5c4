package network

import (
	"fmt"
	"govirt/drivers/internal/safepath"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The host side of a network with a bridge of its own, done with iproute2
// (libvirt does the same over netlink): create the bridge with the
// network's MAC, STP and forward delay, MTU, IPv6 sysctls, addresses, up.

// execCommand makes every command the driver runs (ip, iptables,
// dnsmasq); tests replace it to slow a command down.
var execCommand = exec.Command

func ipCmd(args ...string) error {
	out, err := execCommand("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func bridgeExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name + "/bridge")
	return err == nil
}

func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// createBridge is the first half of networkStartNetworkVirtual; on error
// the bridge is deleted again.
func createBridge(n *netXML) (err error) {
	br := n.Bridge.Name
	if linkExists(br) {
		return fmt.Errorf("Unable to create bridge %s: device already exists", br)
	}
	args := []string{"link", "add", "name", br}
	if n.MAC.Address != "" {
		args = append(args, "address", n.MAC.Address)
	}
	stp := "1"
	if n.Bridge.STP == "off" {
		stp = "0"
	}
	delay, _ := strconv.Atoi(n.Bridge.Delay)
	args = append(args, "type", "bridge", "stp_state", stp, "forward_delay", strconv.Itoa(delay*100))
	if err := ipCmd(args...); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			deleteBridge(br)
		}
	}()
	if n.MTU.Size > 0 {
		if err := ipCmd("link", "set", "dev", br, "mtu", strconv.Itoa(n.MTU.Size)); err != nil {
			return err
		}
	}
	setIPv6Sysctls(n)
	for _, ip := range n.IPs {
		a := fmt.Sprintf("%s/%d", ip.addr, ip.prefix())
		args := []string{"addr", "add", a}
		if ip.v4() {
			args = append(args, "broadcast", "+")
		}
		if err := ipCmd(append(args, "dev", br)...); err != nil {
			return err
		}
	}
	return ipCmd("link", "set", "dev", br, "up")
}

// setIPv6Sysctls is networkSetIPv6Sysctls: IPv6 is disabled on a bridge
// without IPv6 addresses; otherwise router advertisements and
// autoconfiguration are off (dnsmasq answers them).
func setIPv6Sysctls(n *netXML) {
	dir, err := safepath.Join("/proc/sys/net/ipv6/conf", n.Bridge.Name, "")
	if err != nil {
		return
	}
	dir += "/"
	has6 := false
	for _, ip := range n.IPs {
		has6 = has6 || ip.v6()
	}
	if !has6 {
		os.WriteFile(dir+"disable_ipv6", []byte("1"), 0o644)
		return
	}
	os.WriteFile(dir+"disable_ipv6", []byte("0"), 0o644)
	os.WriteFile(dir+"accept_ra", []byte("0"), 0o644)
	os.WriteFile(dir+"autoconf", []byte("0"), 0o644)
}

// enableForwarding is networkEnableIPForwarding (nat and route networks).
func enableForwarding(n *netXML) error {
	v4, v6 := false, false
	for _, ip := range n.IPs {
		v4 = v4 || ip.v4()
		v6 = v6 || ip.v6()
	}
	if v4 {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("failed to enable IP forwarding: %v", err)
		}
	}
	if v6 {
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/all/forwarding", []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("failed to enable IP forwarding: %v", err)
		}
	}
	return nil
}

func deleteBridge(name string) error {
	if !linkExists(name) {
		return nil
	}
	ipCmd("link", "set", "dev", name, "down")
	return ipCmd("link", "del", "dev", name)
}
