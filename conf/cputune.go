package conf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"govirt/virerr"
)

// cpumaskLen is VIR_DOMAIN_CPUMASK_LEN: the bits a CPU bitmap may name.
const cpumaskLen = 16384

// ParseBitmap reads libvirt's bitmap syntax ("0-3,^2,5") as virBitmapParse
// with VIR_DOMAIN_CPUMASK_LEN bits; a bad one is its error.
func ParseBitmap(s string) ([]int, error) {
	bad := func() error {
		return virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "Failed to parse bitmap '%s'", s)
	}
	set := map[int]bool{}
	if strings.TrimSpace(s) == "" {
		return nil, bad()
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		neg := strings.HasPrefix(part, "^")
		part = strings.TrimPrefix(part, "^")
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a >= cpumaskLen {
			return nil, bad()
		}
		z := a
		if isRange {
			if neg {
				return nil, bad()
			}
			if z, err = strconv.Atoi(hi); err != nil || z < a || z >= cpumaskLen {
				return nil, bad()
			}
		}
		for i := a; i <= z; i++ {
			if neg {
				delete(set, i)
			} else {
				set[i] = true
			}
		}
	}
	out := make([]int, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	slices.Sort(out)
	return out, nil
}

// FormatBitmap writes a sorted set as virBitmapFormat: ranges joined by
// commas.
func FormatBitmap(set []int) string {
	var parts []string
	for i := 0; i < len(set); {
		j := i
		for j+1 < len(set) && set[j+1] == set[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", set[i], set[j]))
		} else {
			parts = append(parts, strconv.Itoa(set[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// checkBitmaps refuses a definition whose CPU sets libvirt cannot parse
// (the vcpu, vcpupin, emulatorpin, iothreadpin and emulatorsched sets).
func checkBitmaps(root *node) error {
	if s, ok := root.get("vcpu/@cpuset"); ok {
		if _, err := ParseBitmap(s); err != nil {
			return err
		}
	}
	ct := root.child("cputune")
	for _, name := range []string{"vcpupin", "emulatorpin", "iothreadpin"} {
		for _, p := range ct.childrenNamed(name) {
			if s, ok := p.get("@cpuset"); ok {
				if _, err := ParseBitmap(s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// canonicalCPUSets writes the CPU sets and <cputune> the way libvirt
// formats what it parsed: sets as virBitmapFormat writes them, the
// children of <cputune> in its order (pins by vCPU), and <cputune> where
// the domain formatter puts it. Call after checkBitmaps.
func canonicalCPUSets(root *node) {
	if s, ok := root.get("vcpu/@cpuset"); ok {
		set, _ := ParseBitmap(s)
		root.child("vcpu").setAttr("cpuset", FormatBitmap(set))
	}
	ct := root.child("cputune")
	if ct == nil {
		return
	}
	for _, k := range ct.elems() {
		if s, ok := k.get("@cpuset"); ok && (k.name == "vcpupin" || k.name == "emulatorpin" || k.name == "iothreadpin") {
			set, _ := ParseBitmap(s)
			k.setAttr("cpuset", FormatBitmap(set))
		}
	}
	rank := func(k *node) int {
		if k.kind != elemNode {
			return len(cputuneOrder)
		}
		if r := slices.Index(cputuneOrder, k.name); r >= 0 {
			return r
		}
		return len(cputuneOrder)
	}
	slices.SortStableFunc(ct.kids, func(a, b *node) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		if a.kind == elemNode && a.name == "vcpupin" && b.name == "vcpupin" {
			x, _ := strconv.Atoi(a.attr("vcpu"))
			y, _ := strconv.Atoi(b.attr("vcpu"))
			return x - y
		}
		return 0
	})
	// Move <cputune> to its place among the domain's children.
	for i, k := range root.kids {
		if k == ct {
			root.kids = slices.Delete(root.kids, i, i+1)
			break
		}
	}
	root.insertChild(ct)
}

// VcpuPin returns the <cputune><vcpupin> set of one vCPU.
func (d *Domain) VcpuPin(vcpu int) (string, bool) {
	for _, p := range d.x.child("cputune").childrenNamed("vcpupin") {
		if p.attr("vcpu") == strconv.Itoa(vcpu) {
			return p.attr("cpuset"), true
		}
	}
	return "", false
}

// SetVcpuPin pins one vCPU (<cputune><vcpupin vcpu='N' cpuset=”>),
// keeping the pins in vCPU order as libvirt writes them.
func (d *Domain) SetVcpuPin(vcpu int, cpuset string) {
	if d.x == nil {
		d.x = newElem("domain")
	}
	ct := d.x.ensureChild("cputune")
	for _, p := range ct.childrenNamed("vcpupin") {
		if p.attr("vcpu") == strconv.Itoa(vcpu) {
			p.setAttr("cpuset", cpuset)
			return
		}
	}
	pin := newElem("vcpupin")
	pin.attrs = []attr{{"vcpu", strconv.Itoa(vcpu)}, {"cpuset", cpuset}}
	// Before the first pin of a higher vCPU, else where libvirt's order
	// puts vcpupin.
	for i, k := range ct.kids {
		if k.kind == elemNode && k.name == "vcpupin" {
			if n, err := strconv.Atoi(k.attr("vcpu")); err == nil && n > vcpu {
				ct.kids = slices.Insert(ct.kids, i, pin)
				return
			}
		}
	}
	if last := lastNamed(ct, "vcpupin"); last >= 0 {
		ct.kids = slices.Insert(ct.kids, last+1, pin)
		return
	}
	insertCputune(ct, pin)
}

// cputuneOrder is the order virDomainCputuneDefFormat writes.
var cputuneOrder = []string{"shares", "period", "quota", "global_period", "global_quota", "emulator_period",
	"emulator_quota", "iothread_period", "iothread_quota", "vcpupin", "emulatorpin", "iothreadpin",
	"vcpusched", "iothreadsched", "emulatorsched", "cachetune", "memorytune"}

// insertCputune places c before the first child libvirt writes after it.
func insertCputune(ct, c *node) {
	rank := slices.Index(cputuneOrder, c.name)
	for i, k := range ct.kids {
		if k.kind == elemNode && slices.Index(cputuneOrder, k.name) > rank {
			ct.kids = slices.Insert(ct.kids, i, c)
			return
		}
	}
	ct.kids = append(ct.kids, c)
}

// EmulatorPin returns <cputune><emulatorpin cpuset=”>.
func (d *Domain) EmulatorPin() (string, bool) {
	return d.x.child("cputune").child("emulatorpin").get("@cpuset")
}

// SetEmulatorPin writes <cputune><emulatorpin cpuset=”>.
func (d *Domain) SetEmulatorPin(cpuset string) {
	if d.x == nil {
		d.x = newElem("domain")
	}
	ct := d.x.ensureChild("cputune")
	if p := ct.child("emulatorpin"); p != nil {
		p.setAttr("cpuset", cpuset)
		return
	}
	pin := newElem("emulatorpin")
	pin.attrs = []attr{{"cpuset", cpuset}}
	insertCputune(ct, pin)
}

func lastNamed(n *node, name string) int {
	idx := -1
	for i, k := range n.kids {
		if k.kind == elemNode && k.name == name {
			idx = i
		}
	}
	return idx
}
