package conf

import (
	"strconv"

	"govirt/uuid"
)

// Capabilities is the <capabilities> document virConnectGetCapabilities
// returns. It is only ever produced, never parsed.
type Capabilities struct {
	Host   CapsHost
	Guests []CapsGuest
}

// CapsHost is <host>.
type CapsHost struct {
	UUID          uuid.UUID
	CPU           CapsHostCPU
	PowerMgmt     []string // suspend_mem, suspend_disk, suspend_hybrid
	IOMMU         bool
	MigrationLive bool
	URITransports []string // tcp, rdma, ...
	// Cells is the NUMA topology; nil writes no <topology>, an empty
	// non-nil slice an empty one (cells num='0'), as libvirt does for a
	// host whose NUMA layout is known to have no cells.
	Cells     []CapsCell
	Caches    []CapsCacheBank
	SecModels []CapsSecModel
}

// CapsHostCPU is the host <cpu>.
type CapsHostCPU struct {
	Arch string
	// FeatureFlags are host arch features written as <features><pae/>...,
	// the old-style flags some drivers still report.
	FeatureFlags []string
	Model        string
	Vendor       string
	Sockets      uint
	Dies         uint
	Cores        uint
	Threads      uint
	Features     []string
	Pages        []uint64 // supported page sizes, KiB
	// Microcode, the signature, the invariant TSC and the physical
	// address width, as libvirt's x86 host CPU has them (0: absent).
	Microcode                        uint32
	SigFamily, SigModel, SigStepping uint32
	HasSig                           bool
	TSCFreq                          uint64
	TSCScaling                       string
	PhysBits                         int
}

// CapsCacheBank is a host <cache><bank> (level 3 and up).
type CapsCacheBank struct {
	ID, Level int
	Type      string // both, code, data
	Size      uint64 // bytes
	CPUs      string
}

// CapsCell is a NUMA <cell>.
type CapsCell struct {
	ID        int
	MemoryKiB uint64 // 0 leaves <memory> out
	Pages     []CapsPages
	Distances []int // <distances>: the distance to each cell, by id
	CPUs      []CapsCPU
}

// CapsPages is a cell's pool of pages of one size.
type CapsPages struct {
	SizeKiB uint64
	Avail   uint64
}

// CapsCPU is a host CPU inside a cell.
type CapsCPU struct {
	ID, SocketID, DieID, CoreID int
	Siblings                    string
}

// CapsSecModel is a <secmodel>.
type CapsSecModel struct {
	Model      string
	DOI        string
	BaseLabels map[string]string // virt type -> label
}

// CapsGuest is a <guest>.
type CapsGuest struct {
	OSType   string // hvm
	Arch     string
	WordSize int
	Emulator string
	Machines []CapsMachine
	Domains  []string // domain types: qemu, kvm
	Features []CapsFeature
}

// CapsMachine is an <arch><machine>.
type CapsMachine struct {
	Name      string
	Canonical string
	MaxCPUs   int
}

// CapsFeature is a <guest><features> child; Default "" omits the
// default/toggle attributes (a plain capability like <cpuselection/>).
type CapsFeature struct {
	Name    string
	Default string // on|off
	Toggle  bool
}

// NodeInfo is virNodeInfo.
type NodeInfo struct {
	Model   string
	Memory  uint64 // KiB
	CPUs    uint
	MHz     uint
	Nodes   uint
	Sockets uint
	Cores   uint
	Threads uint
}

func elemText(name, text string) *node {
	n := newElem(name)
	n.setText(text)
	return n
}

func elemAttrs(name string, kv ...string) *node {
	n := newElem(name)
	for i := 0; i+1 < len(kv); i += 2 {
		n.attrs = append(n.attrs, attr{kv[i], kv[i+1]})
	}
	return n
}

func (n *node) add(kids ...*node) *node {
	n.kids = append(n.kids, kids...)
	return n
}

func utoa(v uint) string { return strconv.FormatUint(uint64(v), 10) }

// blankLine is the empty line libvirt leaves after <capabilities> and
// after each top-level section.
func blankLine() *node { return &node{kind: textNode, text: "\n"} }

// Format writes the document in libvirt's layout.
func (c *Capabilities) Format() ([]byte, error) {
	root := newElem("capabilities").add(blankLine())
	root.add(c.Host.toNode(), blankLine())
	for _, g := range c.Guests {
		root.add(g.toNode(), blankLine())
	}
	return writeTree(root), nil
}

func (h *CapsHost) toNode() *node {
	host := newElem("host")
	if !h.UUID.IsZero() {
		host.add(elemText("uuid", h.UUID.String()))
	}
	cpu := newElem("cpu").add(elemText("arch", h.CPU.Arch))
	if len(h.CPU.FeatureFlags) > 0 {
		fs := newElem("features")
		for _, f := range h.CPU.FeatureFlags {
			fs.add(newElem(f))
		}
		cpu.add(fs)
	}
	if h.CPU.Model != "" {
		cpu.add(elemText("model", h.CPU.Model))
	}
	if h.CPU.Vendor != "" {
		cpu.add(elemText("vendor", h.CPU.Vendor))
	}
	if h.CPU.Microcode != 0 {
		cpu.add(elemAttrs("microcode", "version", utoa(uint(h.CPU.Microcode))))
	}
	if h.CPU.HasSig && h.CPU.SigFamily != 0 {
		cpu.add(elemAttrs("signature", "family", utoa(uint(h.CPU.SigFamily)), "model", utoa(uint(h.CPU.SigModel)),
			"stepping", utoa(uint(h.CPU.SigStepping))))
	}
	if h.CPU.TSCFreq != 0 {
		c := elemAttrs("counter", "name", "tsc", "frequency", strconv.FormatUint(h.CPU.TSCFreq, 10))
		if h.CPU.TSCScaling != "" {
			c.setAttr("scaling", h.CPU.TSCScaling)
		}
		cpu.add(c)
	}
	if h.CPU.Sockets > 0 {
		cpu.add(elemAttrs("topology", "sockets", utoa(h.CPU.Sockets), "dies", utoa(max(h.CPU.Dies, 1)),
			"cores", utoa(h.CPU.Cores), "threads", utoa(h.CPU.Threads)))
	}
	if h.CPU.PhysBits > 0 {
		cpu.add(elemAttrs("maxphysaddr", "mode", "emulate", "bits", itoa(h.CPU.PhysBits)))
	}
	for _, f := range h.CPU.Features {
		cpu.add(elemAttrs("feature", "name", f))
	}
	for _, p := range h.CPU.Pages {
		cpu.add(elemAttrs("pages", "unit", "KiB", "size", strconv.FormatUint(p, 10)))
	}
	host.add(cpu)
	pm := newElem("power_management")
	for _, p := range h.PowerMgmt {
		pm.add(newElem(p))
	}
	host.add(pm)
	if h.IOMMU {
		host.add(elemAttrs("iommu", "support", "yes"))
	} else {
		host.add(elemAttrs("iommu", "support", "no"))
	}
	if h.MigrationLive || len(h.URITransports) > 0 {
		mig := newElem("migration_features")
		if h.MigrationLive {
			mig.add(newElem("live"))
		}
		if len(h.URITransports) > 0 {
			ts := newElem("uri_transports")
			for _, t := range h.URITransports {
				ts.add(elemText("uri_transport", t))
			}
			mig.add(ts)
		}
		host.add(mig)
	}
	if h.Cells != nil {
		cells := elemAttrs("cells", "num", itoa(len(h.Cells)))
		cells.open = true
		for _, c := range h.Cells {
			cell := elemAttrs("cell", "id", itoa(c.ID))
			if c.MemoryKiB > 0 {
				cell.add(elemAttrs("memory", "unit", "KiB").add(&node{kind: textNode, text: strconv.FormatUint(c.MemoryKiB, 10)}))
			}
			for _, p := range c.Pages {
				cell.add(elemAttrs("pages", "unit", "KiB", "size", strconv.FormatUint(p.SizeKiB, 10)).
					add(&node{kind: textNode, text: strconv.FormatUint(p.Avail, 10)}))
			}
			if len(c.Distances) > 0 {
				d := newElem("distances")
				for id, v := range c.Distances {
					d.add(elemAttrs("sibling", "id", itoa(id), "value", itoa(v)))
				}
				cell.add(d)
			}
			cpus := elemAttrs("cpus", "num", itoa(len(c.CPUs)))
			for _, p := range c.CPUs {
				cpus.add(elemAttrs("cpu", "id", itoa(p.ID), "socket_id", itoa(p.SocketID), "die_id", itoa(p.DieID),
					"core_id", itoa(p.CoreID), "siblings", p.Siblings))
			}
			cells.add(cell.add(cpus))
		}
		host.add(newElem("topology").add(cells))
	}
	if len(h.Caches) > 0 {
		cache := newElem("cache")
		for _, b := range h.Caches {
			size, unit := prettySize(b.Size)
			cache.add(elemAttrs("bank", "id", itoa(b.ID), "level", itoa(b.Level), "type", b.Type,
				"size", strconv.FormatUint(size, 10), "unit", unit, "cpus", b.CPUs))
		}
		host.add(cache)
	}
	for _, s := range h.SecModels {
		sm := newElem("secmodel").add(elemText("model", s.Model), elemText("doi", s.DOI))
		for _, typ := range []string{"kvm", "qemu"} {
			if l, ok := s.BaseLabels[typ]; ok {
				sm.add(elemAttrs("baselabel", "type", typ).add(&node{kind: textNode, text: l}))
			}
		}
		host.add(sm)
	}
	return host
}

func (g *CapsGuest) toNode() *node {
	gn := newElem("guest").add(elemText("os_type", g.OSType))
	arch := elemAttrs("arch", "name", g.Arch)
	if g.WordSize > 0 {
		arch.add(elemText("wordsize", itoa(g.WordSize)))
	}
	if g.Emulator != "" {
		arch.add(elemText("emulator", g.Emulator))
	}
	for _, m := range g.Machines {
		mn := newElem("machine")
		if m.Canonical != "" {
			mn.setAttr("canonical", m.Canonical)
		}
		if m.MaxCPUs > 0 {
			mn.setAttr("maxCpus", itoa(m.MaxCPUs))
		}
		arch.add(mn.add(&node{kind: textNode, text: m.Name}))
	}
	for _, d := range g.Domains {
		arch.add(elemAttrs("domain", "type", d))
	}
	gn.add(arch)
	if len(g.Features) > 0 {
		fs := newElem("features")
		for _, f := range g.Features {
			fn := newElem(f.Name)
			if f.Default != "" {
				toggle := "no"
				if f.Toggle {
					toggle = "yes"
				}
				fn.attrs = []attr{{"default", f.Default}, {"toggle", toggle}}
			}
			fs.add(fn)
		}
		gn.add(fs)
	}
	return gn
}

// prettySize is virFormatIntPretty: the largest binary unit that divides
// the byte count.
func prettySize(b uint64) (uint64, string) {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b != 0 && b%1024 == 0 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return b, units[i]
}
