package command

import (
	"fmt"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// Per-vCPU states (<vcpus><vcpu id enabled hotpluggable order/>), libvirt's
// individualvcpus: a definition that lists them (written by the user, by
// virsh setvcpu, or by a vCPU hotplug in the live XML) has them as the
// master copy, which <vcpu current> follows; otherwise vCPUs 0..current-1
// are online and not hotpluggable and the rest offline and hotpluggable
// (virDomainVcpuDefPostParse).

// VcpuState is one vCPU's state.
type VcpuState struct {
	Online       bool
	Hotpluggable bool
	Order        int // 0: none
}

// VcpuStates returns def's vCPU states and whether def lists them.
func VcpuStates(def *conf.Domain) ([]VcpuState, bool, error) {
	n := int(def.VCPUs)
	cur := int(def.CurrentVCPUs)
	if cur == 0 || cur > n {
		cur = n
	}
	out := make([]VcpuState, n)
	list := def.Tree().Child("vcpus")
	var entries []*conf.Element
	if list != nil {
		entries = list.Children("vcpu")
	}
	if len(entries) == 0 {
		for i := range out {
			out[i] = VcpuState{Online: i < cur, Hotpluggable: i >= cur}
		}
		return out, false, nil
	}
	hot := make([]string, n)
	for _, e := range entries {
		ids, _ := e.Attr("id")
		id, err := strconv.ParseUint(ids, 10, 32)
		if err != nil {
			return nil, true, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute 'id' in element 'vcpu': '%s'. Expected non-negative integer value", ids)
		}
		if int(id) >= n {
			return nil, true, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "vcpu id '%d' is out of range of maximum vcpu count", id)
		}
		en, _ := e.Attr("enabled")
		out[id].Online = en == "yes"
		hot[id], _ = e.Attr("hotpluggable")
		if o, ok := e.Attr("order"); ok {
			v, _ := strconv.Atoi(o)
			out[id].Order = v
		}
	}
	for i := range out {
		switch hot[i] {
		case "":
			out[i].Hotpluggable = !out[i].Online
		case "no":
			if !out[i].Online {
				return nil, true, unsupported("vcpu '%d' is both offline and not hotpluggable", i)
			}
		default:
			out[i].Hotpluggable = true
		}
	}
	return out, true, nil
}

// SetVcpuStates lists st in def's <vcpus> (with each online vCPU's order
// when withOrder) and sets <vcpu current> to the online count.
func SetVcpuStates(def *conf.Domain, st []VcpuState, withOrder bool) error {
	var b strings.Builder
	b.WriteString("<vcpus>")
	online := 0
	for i, s := range st {
		en, hp := "no", "no"
		if s.Online {
			en = "yes"
			online++
		}
		if s.Hotpluggable {
			hp = "yes"
		}
		fmt.Fprintf(&b, "<vcpu id='%d' enabled='%s' hotpluggable='%s'", i, en, hp)
		if withOrder && s.Order != 0 {
			fmt.Fprintf(&b, " order='%d'", s.Order)
		}
		b.WriteString("/>")
	}
	b.WriteString("</vcpus>")
	if err := def.SetElement("vcpus", []byte(b.String())); err != nil {
		return err
	}
	def.CurrentVCPUs = uint(online)
	if online == len(st) {
		// libvirt writes current only while a vCPU is offline.
		def.SetValue("vcpu/@current", "")
	}
	return nil
}

// checkVcpuStates is qemuDomainDefVcpusPostParse's refusals.
func checkVcpuStates(st []VcpuState) error {
	if len(st) == 0 {
		return nil
	}
	if !st[0].Online {
		return unsupported("vcpu 0 can't be offline")
	}
	if st[0].Hotpluggable {
		return unsupported("vcpu0 can't be hotpluggable")
	}
	if st[0].Order != 0 && st[0].Order != 1 {
		return unsupported("vcpu0 must be enabled first")
	}
	hasOrder := st[0].Order != 0
	for i := 1; i < len(st); i++ {
		if st[i].Online && (st[i].Order != 0) != hasOrder {
			return unsupported("all vcpus must have either set or unset order")
		}
		if !st[i].Hotpluggable {
			if st[i-1].Hotpluggable {
				return unsupported("online non-hotpluggable vcpus need to be ordered prior to hotplugable vcpus")
			}
			if st[i-1].Order > st[i].Order {
				return unsupported("online non-hotpluggable vcpus must be ordered in ascending order")
			}
		}
	}
	return nil
}

// BootHotplugVcpus are the vCPUs a start plugs as devices once QEMU is up
// (online and hotpluggable), by order, then id (qemuProcessVcpusSortOrder).
func BootHotplugVcpus(def *conf.Domain) []int {
	st, individual, err := VcpuStates(def)
	if err != nil || !individual {
		return nil
	}
	var out []int
	for i, s := range st {
		if s.Online && s.Hotpluggable {
			out = append(out, i)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && st[out[j]].Order < st[out[j-1]].Order; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// smpCount is -smp's vCPU count for a definition listing <vcpus>: the
// online vCPUs that are not hotpluggable; ok is false without a list.
func smpCount(def *conf.Domain) (uint, bool, error) {
	st, individual, err := VcpuStates(def)
	if err != nil || !individual {
		return 0, false, err
	}
	if err := checkVcpuStates(st); err != nil {
		return 0, true, err
	}
	n := uint(0)
	for _, s := range st {
		if s.Online && !s.Hotpluggable {
			n++
		}
	}
	return n, true, nil
}

// CheckVcpuStates makes qemuDomainDefVcpusPostParse's refusals about
// def's vCPU states (at define, as libvirt).
func CheckVcpuStates(def *conf.Domain) error {
	st, _, err := VcpuStates(def)
	if err != nil {
		return err
	}
	return checkVcpuStates(st)
}
