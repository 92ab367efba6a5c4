package conf

import (
	"errors"
	"strings"
)

// NumatuneModes are virDomainNumatuneMemMode's names by value.
var NumatuneModes = []string{"strict", "preferred", "interleave", "restrictive"}

// SetNumatune is virDomainNumatuneSet(placement -1) on <numatune>: mode
// is an index of NumatuneModes (-1 keeps it), nodeset libvirt's bitmap
// syntax ("" keeps it). An unspecified <memory> becomes strict; a node
// set makes the placement static. The element is written as libvirt
// formats it (mode, then nodeset or placement), <memnode> kept.
func (d *Domain) SetNumatune(mode int, nodeset string) error {
	if mode == -1 && nodeset == "" {
		return nil
	}
	tree := d.Tree()
	nt := tree.Child("numatune")
	var mem *Element
	if nt != nil {
		mem = nt.Child("memory")
	}
	curMode, curNodes, placement := "", "", ""
	if mem != nil {
		curMode, _ = mem.Attr("mode")
		if curMode == "" {
			curMode = "strict"
		}
		curNodes, _ = mem.Attr("nodeset")
		placement, _ = mem.Attr("placement")
	} else {
		if mode == -1 {
			mode = 0
		}
		placement = "default"
	}
	if mode != -1 {
		curMode = NumatuneModes[mode]
	}
	switch {
	case nodeset != "":
		curNodes, placement = nodeset, "static"
	case placement == "default":
		// virDomainDef's placement_mode: <vcpu placement='auto'> or not
		if p, _ := d.Value("vcpu/@placement"); p != "auto" {
			placement = "static"
		} else {
			placement = "auto"
		}
	case placement == "" && curNodes != "":
		placement = "static"
	case placement == "":
		placement = "auto"
	}
	if placement == "static" && curNodes == "" {
		return errors.New("nodeset for NUMA memory tuning must be set if 'placement' is 'static'")
	}
	var b strings.Builder
	b.WriteString("<numatune><memory mode='" + curMode + "' ")
	if placement == "static" {
		b.WriteString("nodeset='" + curNodes + "'/>")
	} else {
		b.WriteString("placement='" + placement + "'/>")
	}
	if nt != nil {
		for _, mn := range nt.Children("memnode") {
			b.Write(mn.XML())
		}
	}
	b.WriteString("</numatune>")
	return d.SetElement("numatune", []byte(b.String()))
}

// SetPerfEvents writes changes (event name to enabled) into <perf> as
// libvirt formats it: every event set either way, in order (libvirt's
// event order).
func (d *Domain) SetPerfEvents(order []string, changes map[string]bool) error {
	state := map[string]bool{}
	if perf := d.Tree().Child("perf"); perf != nil {
		for _, e := range perf.Children("event") {
			name, _ := e.Attr("name")
			on, _ := e.Attr("enabled")
			state[name] = on == "yes"
		}
	}
	for k, on := range changes {
		state[k] = on
	}
	var b strings.Builder
	for _, name := range order {
		on, ok := state[name]
		if !ok {
			continue
		}
		yn := "no"
		if on {
			yn = "yes"
		}
		b.WriteString("<event name='" + name + "' enabled='" + yn + "'/>")
	}
	if b.Len() == 0 {
		return d.SetElement("perf", nil)
	}
	return d.SetElement("perf", []byte("<perf>"+b.String()+"</perf>"))
}
