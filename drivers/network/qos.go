package network

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// The QoS tree of a network with <bandwidth>, as libvirt's network driver
// keeps it with tc on the bridge (virNetDevBandwidthSet with a
// hierarchical class, then virNetDevBandwidthPlug/Unplug/UpdateRate for
// the ports that ask for a 'floor'): the network's inbound rate is the
// htb class 1:1, class 1:2 under it takes the traffic of NICs without a
// floor at what the floors leave, and every port with a floor has a class
// 1:ID of its own (ID 3 and up, kept in the port's <bandwidth classID>)
// with an sfq qdisc and a u32 filter on the guest's MAC.

func tcCmd(args ...string) error {
	cmd := execCommand("tc", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		status := -1
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			status = ee.ExitCode()
		}
		// tc's message as virCommandRun reports it: verbatim, newline too.
		return errNet(virerr.ErrInternalError, "Child process (tc %s) unexpected exit status %d: %s", strings.Join(args, " "), status, out)
	}
	return nil
}

// quantum is virNetDevBandwidthCmdAddOptimalQuantum.
func quantum(r *rateXML) []string {
	q := r.Average * 1024 / 8 / 1500
	if q == 0 {
		q = 1
	}
	return []string{"quantum", strconv.FormatUint(q, 10)}
}

// setNetworkQoS is virNetDevBandwidthSet(bridge, bandwidth, true, true):
// the network's inbound rate shapes what leaves the bridge towards the
// guests, its outbound rate polices what they send.
func setNetworkQoS(bridge string, bw *bandwidthXML) error {
	if bw == nil {
		return nil
	}
	_ = tcCmd("qdisc", "del", "dev", bridge, "root")
	_ = tcCmd("qdisc", "del", "dev", bridge, "ingress")
	if tx := bw.Inbound; tx != nil && tx.Average != 0 {
		avg := strconv.FormatUint(tx.Average, 10) + "kbps"
		ceil := avg
		if tx.Peak != 0 {
			ceil = strconv.FormatUint(tx.Peak, 10) + "kbps"
		}
		class2 := []string{"class", "add", "dev", bridge, "parent", "1:1", "classid", "1:2", "htb", "rate", avg}
		if tx.Peak != 0 {
			class2 = append(class2, "ceil", ceil)
		}
		if tx.Burst != 0 {
			class2 = append(class2, "burst", strconv.FormatUint(tx.Burst, 10)+"kb")
		}
		for _, args := range [][]string{
			{"qdisc", "add", "dev", bridge, "root", "handle", "1:", "htb", "default", "2"},
			append([]string{"class", "add", "dev", bridge, "parent", "1:", "classid", "1:1", "htb", "rate", avg, "ceil", ceil}, quantum(tx)...),
			append(class2, quantum(tx)...),
			{"qdisc", "add", "dev", bridge, "parent", "1:2", "handle", "2:", "sfq", "perturb", "10"},
			{"filter", "add", "dev", bridge, "parent", "1:0", "protocol", "all", "prio", "1", "handle", "1", "fw", "flowid", "1"},
		} {
			if err := tcCmd(args...); err != nil {
				return err
			}
		}
	}
	if rx := bw.Outbound; rx != nil {
		burst := rx.Burst
		if burst == 0 {
			burst = min(rx.Average, uint64(^uint32(0))/1024)
		}
		for _, args := range [][]string{
			{"qdisc", "add", "dev", bridge, "ingress"},
			{"filter", "add", "dev", bridge, "parent", "ffff:", "protocol", "all", "u32", "match", "u32", "0", "0",
				"police", "rate", strconv.FormatUint(rx.Average, 10) + "kbps", "burst", strconv.FormatUint(burst, 10) + "kb",
				"mtu", "64kb", "drop", "flowid", ":1"},
		} {
			if err := tcCmd(args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// netCeil is the network's inbound peak, else its average: what classes
// may borrow up to, and what the floors share.
func netCeil(in *rateXML) uint64 {
	if in.Peak != 0 {
		return in.Peak
	}
	return in.Average
}

// floorSum is virNetworkObjGetFloorSum, from the ports (under mu), less
// the port skip.
func floorSum(o *netObj, skip *conf.NetworkPort) uint64 {
	var s uint64
	for u, p := range o.ports {
		if skip != nil && u == skip.UUID {
			continue
		}
		if p.In != nil && p.ClassID != 0 {
			s += p.In.Floor
		}
	}
	return s
}

// nextClassID is networkNextClassID: the lowest ID above 2 no port holds.
func nextClassID(o *netObj) uint64 {
	used := map[uint64]bool{}
	for _, p := range o.ports {
		used[p.ClassID] = true
	}
	id := uint64(3)
	for used[id] {
		id++
	}
	return id
}

// plugFloor is networkPlugBandwidthImpl: a class of the port's floor
// under the network's, its MAC filtered into it, and class 1:2 left what
// the floors do not take. The caller holds o.op and checked the floors.
func (m *Manager) plugFloor(o *netObj, bridge string, in *rateXML, p *conf.NetworkPort) error {
	m.mu.Lock()
	id := nextClassID(o)
	sum := floorSum(o, p) + p.In.Floor
	m.mu.Unlock()
	hw, err := net.ParseMAC(p.MAC)
	if err != nil || len(hw) != 6 {
		return errNet(virerr.ErrInternalError, "Unable to parse MAC '%s'", p.MAC)
	}
	class := fmt.Sprintf("1:%x", id)
	q := quantum(&rateXML{Average: p.In.Average})
	steps := [][]string{
		append([]string{"class", "add", "dev", bridge, "parent", "1:1", "classid", class, "htb",
			"rate", strconv.FormatUint(p.In.Floor, 10) + "kbps", "ceil", strconv.FormatUint(netCeil(in), 10) + "kbps"}, q...),
		{"qdisc", "add", "dev", bridge, "parent", class, "handle", fmt.Sprintf("%x:", id), "sfq", "perturb", "10"},
		{"filter", "add", "dev", bridge, "protocol", "ip", "prio", "2", "handle", fmt.Sprintf("800::%d", 800+id), "u32",
			"match", "u16", "0x0800", "0xffff", "at", "-2",
			"match", "u32", fmt.Sprintf("0x%02x%02x%02x%02x", hw[2], hw[3], hw[4], hw[5]), "0xffffffff", "at", "-12",
			"match", "u16", fmt.Sprintf("0x%02x%02x", hw[0], hw[1]), "0xffff", "at", "-14",
			"flowid", class},
	}
	for _, args := range steps {
		if err := tcCmd(args...); err != nil {
			unplugTC(bridge, id)
			return err
		}
	}
	p.ClassID = id
	if err := updateRate(bridge, 2, in, netCeil(in)-min(sum, netCeil(in))); err != nil {
		m.log.Warn("Unable to update rate for 1:2 class", "bridge", bridge, "err", err)
	}
	return nil
}

// unplugTC is virNetDevBandwidthUnplug; failures to delete are ignored.
func unplugTC(bridge string, id uint64) {
	_ = tcCmd("qdisc", "del", "dev", bridge, "handle", fmt.Sprintf("%x:", id))
	_ = tcCmd("filter", "del", "dev", bridge, "prio", "2", "handle", fmt.Sprintf("800::%d", 800+id), "u32")
	_ = tcCmd("class", "del", "dev", bridge, "classid", fmt.Sprintf("1:%x", id))
}

// updateRate is virNetDevBandwidthUpdateRate.
func updateRate(bridge string, id uint64, in *rateXML, rate uint64) error {
	return tcCmd(append([]string{"class", "change", "dev", bridge, "classid", fmt.Sprintf("1:%x", id), "htb",
		"rate", strconv.FormatUint(rate, 10) + "kbps", "ceil", strconv.FormatUint(netCeil(in), 10) + "kbps"}, quantum(in)...)...)
}

// unplugFloor is networkUnplugBandwidth for a port that held a class
// (already out of o.ports or about to be: skip names it).
func (m *Manager) unplugFloor(o *netObj, live *conf.Network, p *conf.NetworkPort) {
	if p == nil || p.ClassID == 0 {
		return
	}
	x, err := netXMLOf(live)
	if err != nil || x.Bandwidth == nil || x.Bandwidth.Inbound == nil {
		return
	}
	in := x.Bandwidth.Inbound
	unplugTC(live.BridgeName, p.ClassID)
	m.mu.Lock()
	sum := floorSum(o, p)
	m.mu.Unlock()
	if err := updateRate(live.BridgeName, 2, in, netCeil(in)-min(sum, netCeil(in))); err != nil {
		m.log.Warn("Unable to update rate for 1:2 class", "bridge", live.BridgeName, "err", err)
	}
	p.ClassID = 0
}
