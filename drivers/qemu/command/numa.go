package command

import (
	"strconv"

	"govirt/conf"
	"govirt/virerr"
)

// Guest NUMA cells (<cpu><numa>) and <numatune>: -numa node/dist with
// one memory backend per cell (qemuBuildNumaCommandLine).

type cell struct {
	cpus      []int
	memKiB    uint64
	access    string // memAccess
	discard   string // yes, no or ""
	distances map[int]uint64
	caches    []numaCache
}

func (b *builder) cells() ([]cell, error) {
	if b.numa != nil {
		return *b.numa, nil
	}
	elems := children(child(b.tree(), "cpu", "numa"), "cell")
	out := make([]cell, len(elems))
	// Cells are numbered in document order or by their id, in any order
	// (virDomainNumaDefParseXML); byID maps each to its element.
	byID := make([]*conf.Element, len(elems))
	idOf := make([]int, len(elems))
	for pos, e := range elems {
		i := pos
		if id := attr(e, "id"); id != "" {
			n, err := strconv.ParseUint(id, 10, 32)
			if err != nil {
				return nil, xmlError("Invalid value for attribute 'id' in element 'cell': '%s'. Expected non-negative integer value", id)
			}
			i = int(min(n, uint64(len(elems))))
		}
		if i >= len(elems) {
			return nil, xmlError("Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not starting from 0 are not allowed")
		}
		if byID[i] != nil {
			return nil, xmlError("Duplicate NUMA cell info for cell id '%d'", i)
		}
		byID[i], idOf[pos] = e, i
	}
	for i, e := range byID {
		var c cell
		var err error
		if cp := attr(e, "cpus"); cp != "" {
			if c.cpus, err = conf.ParseBitmap(cp); err != nil {
				return nil, err
			}
		}
		unit := attr(e, "unit")
		if unit == "" {
			unit = "KiB"
		}
		if c.memKiB, err = scaled(attr(e, "memory"), unit, 1024); err != nil {
			return nil, err
		}
		// qemuDomainAlignMemorySizes: every cell to whole MiB.
		c.memKiB = (c.memKiB + 1023) / 1024 * 1024
		c.access = attr(e, "memAccess")
		switch c.access {
		case "", "shared", "private":
		default:
			return nil, unsupportedValue("cpu/numa/cell", "memAccess", c.access)
		}
		if c.caches, err = parseCaches(e, i); err != nil {
			return nil, err
		}
		c.discard = attr(e, "discard")
		switch c.discard {
		case "", "yes", "no":
		default:
			return nil, unsupportedValue("cpu/numa/cell", "discard", c.discard)
		}
		out[i] = c
	}
	// virDomainNumaDefNodeDistanceParseXML, cell by cell in document
	// order: a distance
	// applies to the other direction too unless that one is set.
	for pos, e := range elems {
		i := idOf[pos]
		for _, s := range children(child(e, "distances"), "sibling") {
			id, err1 := strconv.Atoi(attr(s, "id"))
			v, err2 := strconv.ParseUint(attr(s, "value"), 10, 32)
			if err1 != nil || err2 != nil || id < 0 {
				return nil, xmlError("invalid NUMA distance of cell %d", i)
			}
			if id >= len(out) {
				return nil, xmlError("'sibling_id %d' does not refer to a valid cell within NUMA 'cell id %d'", id, i)
			}
			if v < 10 || v > 255 || (id == i && v != 10) || (id != i && v == 10) {
				return nil, xmlError("'value %d' is invalid for 'sibling id %d' under NUMA 'cell id %d'", v, id, i)
			}
			if out[i].distances == nil {
				out[i].distances = map[int]uint64{i: 10}
			}
			out[i].distances[id] = v
			if out[id].distances == nil {
				out[id].distances = map[int]uint64{id: 10}
			}
			if out[id].distances[i] == 0 {
				out[id].distances[i] = v
			}
		}
	}
	var ncpus uint
	for i, c := range out {
		ncpus += uint(len(c.cpus))
		for j := 0; j < i; j++ {
			if overlaps(c.cpus, out[j].cpus) {
				return nil, unsupported("NUMA cells %d and %d have overlapping vCPU ids", i, j)
			}
		}
	}
	if ncpus > b.def.VCPUs {
		return nil, internalError("Number of CPUs in <numa> exceeds the <vcpu> count")
	}
	b.numa = &out
	return out, nil
}

// numaCells is the number of guest NUMA nodes.
func (b *builder) numaCells() int {
	c, _ := b.cells()
	return len(c)
}

// numaHasHMAT is virDomainNumaHasHMAT: interconnects or cell caches.
func (b *builder) numaHasHMAT() bool {
	cells, _ := b.cells()
	for _, c := range cells {
		if len(c.caches) > 0 {
			return true
		}
	}
	ics, _ := b.interconnects(cells)
	return len(ics) > 0
}

// numatuneDef is <numatune>.
type numatuneDef struct {
	specified bool
	memMode   string
	memNodes  []int
	placement string
	cells     map[int]numatuneCell
	// noAdvice: placement='auto' without numad's advice (a pretend
	// start, domxml-to-native), which a memory backend cannot do without.
	noAdvice bool
}

type numatuneCell struct {
	mode  string
	nodes []int
}

func (b *builder) numatune() (*numatuneDef, error) {
	if b.nt != nil {
		return b.nt, nil
	}
	nt := &numatuneDef{cells: map[int]numatuneCell{}}
	e := child(b.tree(), "numatune")
	if m := child(e, "memory"); m != nil {
		nt.specified = true
		nt.memMode = attr(m, "mode")
		if nt.memMode == "" {
			nt.memMode = "strict"
		}
		nt.placement = attr(m, "placement")
		if ns := attr(m, "nodeset"); ns != "" {
			var err error
			if nt.memNodes, err = conf.ParseBitmap(ns); err != nil {
				return nil, err
			}
			if nt.placement == "" {
				nt.placement = "static"
			}
		} else if nt.placement == "" {
			nt.placement = "auto"
		}
		if nt.placement == "auto" {
			// numad's advice, asked for by the driver before building.
			nt.memNodes = b.p.AutoNodeset
			nt.noAdvice = b.p.AutoNodeset == nil
		}
	}
	ncells := b.numaCells()
	for _, mn := range children(e, "memnode") {
		id, err := strconv.Atoi(attr(mn, "cellid"))
		if err != nil || id < 0 {
			return nil, xmlError("Invalid cellid attribute in memnode element: %s", attr(mn, "cellid"))
		}
		if id >= ncells {
			return nil, xmlError("Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell")
		}
		c := numatuneCell{mode: attr(mn, "mode")}
		if c.mode == "" {
			c.mode = "strict"
		}
		if c.nodes, err = conf.ParseBitmap(attr(mn, "nodeset")); err != nil {
			return nil, err
		}
		nt.cells[id] = c
	}
	for _, m := range append([]string{nt.memMode}, func() []string {
		var s []string
		for _, c := range nt.cells {
			s = append(s, c.mode)
		}
		return s
	}()...) {
		switch m {
		case "", "strict", "preferred", "interleave", "restrictive":
		default:
			return nil, unsupportedValue("numatune/memory", "mode", m)
		}
	}
	b.nt = nt
	return nt, nil
}

// mode is virDomainNumatuneGetMode with libvirt's strict default.
func (nt *numatuneDef) mode(cellID int) string {
	if c, ok := nt.cells[cellID]; ok && cellID >= 0 {
		return c.mode
	}
	if nt.specified {
		return nt.memMode
	}
	return "strict"
}

// nodeset is virDomainNumatuneMaybeGetNodeset; specified is whether the
// cell has its own <memnode>.
func (nt *numatuneDef) nodeset(cellID int) ([]int, bool, error) {
	if c, ok := nt.cells[cellID]; ok && cellID >= 0 {
		return c.nodes, true, nil
	}
	if !nt.specified {
		return nil, false, nil
	}
	if nt.noAdvice {
		// virDomainNumatuneMaybeGetNodeset
		return nil, false, virerr.New(virerr.FromDomain, virerr.ErrInternalError, "Advice from numad is needed in case of automatic numa placement")
	}
	return nt.memNodes, false, nil
}

func (b *builder) emitNUMA() error {
	cells, err := b.cells()
	if err != nil || len(cells) == 0 {
		return err
	}
	hmat := b.numaHasHMAT()
	ics, err := b.interconnects(cells)
	if err != nil {
		return err
	}
	if hmat && !b.caps.Has("numa.hmat") {
		return unsupported("HMAT is not supported with this QEMU")
	}
	nt, err := b.numatune()
	if err != nil {
		return err
	}
	// virDomainNumatuneNodesetIsAvailable
	for _, n := range nt.memNodes {
		if err := b.host().NUMANode(n); err != nil {
			return err
		}
	}
	for _, c := range nt.cells {
		for _, n := range c.nodes {
			if err := b.host().NUMANode(n); err != nil {
				return err
			}
		}
	}
	needBackend := !b.numaMemSupported() || hmat
	backends := make([]obj, len(cells))
	for i, c := range cells {
		id := "ram-node" + strconv.Itoa(i)
		props, needed, err := b.backendProps(id, &memDev{alias: id, targetNode: i, sizeKiB: c.memKiB}, false, false)
		if err != nil {
			return err
		}
		backends[i] = props
		if needed {
			needBackend = true
		}
	}
	if !needBackend {
		if err := b.emitMemPath(); err != nil {
			return err
		}
	}
	hasCPUs := false
	for _, c := range cells {
		if len(c.cpus) > 0 {
			hasCPUs = true
		}
	}
	if !hasCPUs {
		return unsupported("At least one NUMA node has to have CPUs")
	}
	for i, c := range cells {
		if needBackend {
			b.object(b.threadContext(backends[i]))
		}
		s := "node,nodeid=" + strconv.Itoa(i)
		if len(c.cpus) > 0 {
			for _, r := range splitComma(conf.FormatBitmap(c.cpus)) {
				s += ",cpus=" + r
			}
		}
		if hmat {
			in := initiator(cells, ics, i)
			if in < 0 {
				in = masterInitiator(cells)
			}
			s += ",initiator=" + strconv.Itoa(in)
		}
		if needBackend {
			s += ",memdev=ram-node" + strconv.Itoa(i)
		} else {
			s += ",mem=" + strconv.FormatUint(c.memKiB/1024, 10)
		}
		b.add("-numa", s)
	}
	distances := false
	for _, c := range cells {
		if len(c.distances) > 0 {
			distances = true
		}
	}
	if distances {
		for i := range cells {
			for j := range cells {
				v := cells[i].distances[j]
				if v == 0 {
					v = 20
					if i == j {
						v = 10
					}
				}
				b.add("-numa", "dist,src="+strconv.Itoa(i)+",dst="+strconv.Itoa(j)+",val="+strconv.FormatUint(v, 10))
			}
		}
	}
	if hmat {
		b.emitHMAT(cells, ics)
	}
	return nil
}

// masterInitiator is the first node with CPUs.
func masterInitiator(cells []cell) int {
	for i, c := range cells {
		if len(c.cpus) > 0 {
			return i
		}
	}
	return -1
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// emitMemPath is qemuBuildMemPathStr: guest NUMA nodes of an old machine
// type without backends get their huge pages or file backing, and
// preallocation, for all of RAM.
func (b *builder) emitMemPath() error {
	m, err := b.memoryBacking()
	if err != nil {
		return err
	}
	var path string
	prealloc := m.allocation == "immediate"
	if len(m.pages) > 0 && m.pages[0].sizeKiB != b.host().PageSizeKiB {
		size := m.pages[0].sizeKiB
		if size == 0 {
			if size, err = b.defaultHugepage(); err != nil {
				return err
			}
		}
		if path, err = b.hugepagePath(size); err != nil {
			return err
		}
		b.memDirs = append(b.memDirs, path)
		prealloc = true
	} else if m.source == "file" {
		dir := b.host().MemoryBackingDir + "/" + b.shortName()
		path = dir + "/ram"
		b.memDirs = append(b.memDirs, dir)
		b.memFiles = append(b.memFiles, path)
	}
	if prealloc && !b.memPrealloc {
		b.add("-mem-prealloc")
		b.memPrealloc = true
	}
	if path != "" {
		b.add("-mem-path", path)
	}
	return nil
}
