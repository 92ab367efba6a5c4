package postparse

import (
	"strconv"
	"strings"
)

// numaCPUs is qemuDomainDefNumaCPUsRectify: when the NUMA cells list
// fewer vCPUs than the guest has, the first cell takes every vCPU no
// other cell lists.
func (p *pp) numaCPUs() error {
	d := p.def
	if d.CPU == nil || d.VCPUs == 0 {
		return nil
	}
	var cells []map[int]bool
	e := d.Tree().Child("cpu")
	if e == nil || e.Child("numa") == nil {
		return nil
	}
	total := 0
	for _, c := range e.Child("numa").Children("cell") {
		s, _ := c.Attr("cpus")
		set, ok := parseCPUList(s)
		if !ok {
			return nil // libvirt's parser refuses it; not ours to fix
		}
		cells = append(cells, set)
		total += len(set)
	}
	if len(cells) == 0 || total >= int(d.VCPUs) {
		return nil
	}
	fill := map[int]bool{}
	for i := 0; i < int(d.VCPUs); i++ {
		fill[i] = true
	}
	for _, c := range cells[1:] {
		for cpu := range c {
			delete(fill, cpu)
		}
	}
	d.SetValue("cpu/numa/cell/@cpus", formatCPUList(fill))
	return nil
}

// parseCPUList reads "0-3,^2,5" (virBitmapParse).
func parseCPUList(s string) (map[int]bool, bool) {
	set := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		neg := strings.HasPrefix(part, "^")
		part = strings.TrimPrefix(part, "^")
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 16384 {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > 16384 {
				return nil, false
			}
		}
		for i := a; i <= b; i++ {
			if neg {
				delete(set, i)
			} else {
				set[i] = true
			}
		}
	}
	return set, true
}

// formatCPUList writes a set as libvirt's virBitmapFormat: ranges of
// consecutive CPUs, comma separated.
func formatCPUList(set map[int]bool) string {
	maxCPU := -1
	for c := range set {
		maxCPU = max(maxCPU, c)
	}
	var parts []string
	for i := 0; i <= maxCPU; i++ {
		if !set[i] {
			continue
		}
		j := i
		for j+1 <= maxCPU && set[j+1] {
			j++
		}
		if j > i {
			parts = append(parts, strconv.Itoa(i)+"-"+strconv.Itoa(j))
		} else {
			parts = append(parts, strconv.Itoa(i))
		}
		i = j
	}
	return strings.Join(parts, ",")
}
