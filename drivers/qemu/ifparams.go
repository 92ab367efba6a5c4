package qemu

import (
	"os"
	"os/exec"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// This file is `virsh domiftune` (virDomainGet/SetInterfaceParameters)
// as libvirt's QEMU driver: the rates live in the interface's
// <bandwidth>; on a running guest the tap is shaped with tc as
// virNetDevBandwidthSet does (an htb root class for the guest's
// inbound traffic, an ingress police filter for its outbound).

func (c *conn) DomainGetInterfaceParameters(h driver.Domain, device string, flags uint32) ([]driver.TypedParam, error) {
	def, _, err := c.readDef(h, flags&^vtpStringOkay, "qemuDomainGetInterfaceParameters")
	if err != nil || device == "" {
		return nil, err
	}
	n, err := findNetByDevice(def, device)
	if err != nil {
		return nil, err
	}
	in, out := conf.InterfaceBandwidth(n)
	return driver.BandwidthParams(in, out), nil
}

// bandwidthTypes are virNetDevSupportsBandwidth's interface types.
func bandwidthSupported(typ string) bool {
	switch typ {
	case "bridge", "network", "direct", "ethernet":
		return true
	}
	return false
}

func (c *conn) DomainSetInterfaceParameters(h driver.Domain, device string, params []driver.TypedParam, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return errFlagsFn(flags&^(affectLive|affectConfig), "qemuDomainSetInterfaceParameters")
	}
	ch, err := driver.ParseBandwidthParams(params)
	if err != nil {
		return err
	}
	v, err := c.jobVM(h, "domiftune")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, def, liveDef := v.active(), v.def, v.live
	v.mu.Unlock()
	live, config, err := impact(flags, active)
	if err != nil {
		return err
	}
	if config && def == nil {
		return errTransientConfig()
	}
	var ln, pn *conf.Interface
	var nl, nd *conf.Domain
	if live && liveDef != nil {
		nl = liveDef.Clone()
		if ln, err = findNetByDevice(nl, device); err != nil {
			return err
		}
	}
	if config {
		nd = def.Clone()
		if pn, err = findNetByDevice(nd, device); err != nil {
			return err
		}
	}
	for _, n := range []*conf.Interface{ln, pn} {
		if n != nil && !bandwidthSupported(n.Type) {
			return errQEMU(virerr.ErrConfigUnsupported, "setting bandwidth on interfaces of type '%s' is not implemented yet", n.Type)
		}
	}
	if ln != nil {
		oldIn, oldOut := conf.InterfaceBandwidth(ln)
		in, out := ch.MergeConfig(oldIn, oldOut)
		if in != nil && in.Floor != 0 {
			if ln.Type != "network" {
				return errQEMU(virerr.ErrOperationUnsupported, "Invalid use of 'floor' on interface with MAC address %s - 'floor' is only supported for interface type 'network' with forward type 'nat', 'route', 'open' or none", ln.MAC)
			}
			// libvirt reserves the floor in the network's QoS tree,
			// which govirt's network driver does not keep.
			return errQEMU(virerr.ErrOperationUnsupported, "'floor' on interfaces of type 'network' is not supported by govirt's QEMU driver")
		}
		if err := shapeTap(ln, in, out); err != nil {
			// Put the old shaping back, as libvirt does.
			_ = shapeTap(ln, oldIn, oldOut)
			return err
		}
		conf.SetInterfaceBandwidth(ln, in, out)
		mac := ln.MAC
		c.d.modifyLive(v, func(l *conf.Domain) {
			for _, x := range l.Devices.Interfaces {
				if sameMAC(x.MAC, mac) {
					conf.SetInterfaceBandwidth(x, in, out)
				}
			}
		})
	}
	if pn != nil {
		in, out := ch.MergeConfig(conf.InterfaceBandwidth(pn))
		conf.SetInterfaceBandwidth(pn, in, out)
		return c.d.publishConfig(v, nd)
	}
	return nil
}

// shapeTap is virNetDevBandwidthSet (no hierarchical class) on the
// interface's host device, followed by qemuDomainInterfaceSetDefaultQDisc
// when the guest's inbound direction is left unshaped.
func shapeTap(n *conf.Interface, in, out *conf.BandwidthRate) error {
	if os.Geteuid() != 0 {
		return errQEMU(virerr.ErrOperationUnsupported, "Network bandwidth tuning is not available in session mode")
	}
	ifname := n.TargetDev
	if ifname == "" {
		return errQEMU(virerr.ErrOperationUnsupported, "Unable to set bandwidth for interface because device name is unknown")
	}
	// A macvtap shares the host's view; a tap sees the guest's traffic
	// the other way round.
	rx, tx := out, in
	if n.Type == "direct" {
		rx, tx = in, out
	}
	// virNetDevBandwidthClear: failures (nothing to delete) ignored.
	_ = runTC("qdisc", "del", "dev", ifname, "root")
	_ = runTC("qdisc", "del", "dev", ifname, "ingress")
	if tx != nil && tx.Average != 0 {
		avg := strconv.FormatUint(tx.Average, 10) + "kbps"
		quantum := tx.Average * 1024 / 8 / 1500
		if quantum == 0 {
			quantum = 1
		}
		class := []string{"class", "add", "dev", ifname, "parent", "1:", "classid", "1:1", "htb", "rate", avg}
		if tx.Peak != 0 {
			class = append(class, "ceil", strconv.FormatUint(tx.Peak, 10)+"kbps")
		}
		if tx.Burst != 0 {
			class = append(class, "burst", strconv.FormatUint(tx.Burst, 10)+"kb")
		}
		class = append(class, "quantum", strconv.FormatUint(quantum, 10))
		for _, args := range [][]string{
			{"qdisc", "add", "dev", ifname, "root", "handle", "1:", "htb", "default", "1"},
			class,
			{"qdisc", "add", "dev", ifname, "parent", "1:1", "handle", "2:", "sfq", "perturb", "10"},
			{"filter", "add", "dev", ifname, "parent", "1:0", "protocol", "all", "prio", "1", "handle", "1", "fw", "flowid", "1"},
		} {
			if err := runTC(args...); err != nil {
				return err
			}
		}
	}
	if rx != nil {
		burst := rx.Burst
		if burst == 0 {
			burst = min(rx.Average, uint64(^uint32(0))/1024)
		}
		for _, args := range [][]string{
			{"qdisc", "add", "dev", ifname, "ingress"},
			{"filter", "add", "dev", ifname, "parent", "ffff:", "protocol", "all", "u32", "match", "u32", "0", "0",
				"police", "rate", strconv.FormatUint(rx.Average, 10) + "kbps", "burst", strconv.FormatUint(burst, 10) + "kb",
				"mtu", "64kb", "drop", "flowid", ":1"},
		} {
			if err := runTC(args...); err != nil {
				return err
			}
		}
	}
	if n.Type != "direct" && (in == nil || in.Average == 0) {
		_ = runTC("qdisc", "add", "dev", ifname, "root", "handle", "0:", "noqueue")
	}
	return nil
}

// runTC runs tc, failing as virCommandRun reports a bad exit.
func runTC(args ...string) error {
	cmd := exec.Command("tc", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	status := -1
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	}
	return errQEMU(virerr.ErrInternalError, "Child process (tc %s) unexpected exit status %d: %s", strings.Join(args, " "), status, strings.TrimSpace(string(out)))
}

// applyBandwidths shapes the guest's host devices as its <bandwidth>
// elements ask, once QEMU has created them. libvirt does this while
// connecting each tap and fails the start when tc fails; here a failure
// is logged, as the post-start hooks cannot fail a start.
func (d *Driver) applyBandwidths(v *vm) {
	v.mu.Lock()
	live, name := v.live, v.name
	v.mu.Unlock()
	if live == nil {
		return
	}
	for _, n := range live.Devices.Interfaces {
		in, out := conf.InterfaceBandwidth(n)
		if (in == nil && out == nil) || !bandwidthSupported(n.Type) {
			continue
		}
		if err := shapeTap(n, in, out); err != nil {
			d.log.Warn("cannot set interface bandwidth", "domain", name, "interface", n.TargetDev, "err", err)
		}
	}
}
