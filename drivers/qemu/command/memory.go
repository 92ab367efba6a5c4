package command

import (
	"fmt"
	"govirt/conf"
	"path/filepath"
	"strconv"

	"govirt/drivers/qemu/caps"
	"govirt/virerr"
)

// Guest RAM: <memoryBacking>, -m, the memory-backend-* objects of the
// default RAM, of NUMA cells and of memory devices, as
// qemuBuildMemCommandLine and qemuBuildMemoryBackendProps write them.

// page is one <memoryBacking><hugepages><page>.
type page struct {
	sizeKiB uint64 // 0: the default huge page size
	nodes   []int  // guest nodes it is for; nil for the master page
}

// backing is <memoryBacking>.
type backing struct {
	pages        []page
	source       string // file, anonymous, memfd or ""
	access       string // shared, private or ""
	discard      string // "yes" or ""
	allocation   string // immediate, ondemand or ""
	allocThreads uint64
	locked       bool
}

func (b *builder) memoryBacking() (*backing, error) {
	if b.mem != nil {
		return b.mem, nil
	}
	mb := child(b.tree(), "memoryBacking")
	m := &backing{}
	if hp := child(mb, "hugepages"); hp != nil {
		pages := hp.Children("page")
		if len(pages) == 0 {
			m.pages = []page{{}}
		}
		for _, p := range pages {
			unit := attr(p, "unit")
			if unit == "" {
				unit = "KiB"
			}
			kib, err := scaled(attr(p, "size"), unit, 1024)
			if err != nil {
				return nil, err
			}
			pg := page{sizeKiB: kib}
			if ns := attr(p, "nodeset"); ns != "" {
				if pg.nodes, err = conf.ParseBitmap(ns); err != nil {
					return nil, err
				}
			}
			m.pages = append(m.pages, pg)
		}
	}
	m.source = attr(child(mb, "source"), "type")
	m.access = attr(child(mb, "access"), "mode")
	if child(mb, "discard") != nil {
		m.discard = "yes"
	}
	if a := child(mb, "allocation"); a != nil {
		m.allocation = attr(a, "mode")
		if t := attr(a, "threads"); t != "" {
			n, err := strconv.ParseUint(t, 10, 32)
			if err != nil {
				return nil, xmlError("Invalid value for attribute 'threads' in element 'allocation': '%s'.", t)
			}
			m.allocThreads = n
		}
	}
	m.locked = child(mb, "locked") != nil
	if err := b.checkBacking(m); err != nil {
		return nil, err
	}
	b.mem = m
	return m, nil
}

// checkBacking is virDomainDefMemtuneValidate and
// qemuValidateDomainDefMemory.
func (b *builder) checkBacking(m *backing) error {
	cells := b.numaCells()
	for i, p := range m.pages {
		for j := 0; j < i; j++ {
			q := m.pages[j]
			if p.nodes != nil && q.nodes != nil && overlaps(p.nodes, q.nodes) {
				return virerrDetail("nodeset attribute of hugepages of sizes %d and %d intersect", p.sizeKiB, q.sizeKiB)
			}
			if p.nodes == nil && q.nodes == nil {
				return virerrDetail("two master hugepages detected: %d and %d", p.sizeKiB, q.sizeKiB)
			}
		}
		for _, n := range p.nodes {
			if n >= cells {
				return virerrDetail("hugepages: node %d not found", n)
			}
		}
	}
	switch m.source {
	case "", "file", "anonymous", "memfd":
	default:
		return unsupportedValue("memoryBacking/source", "type", m.source)
	}
	switch m.access {
	case "", "shared", "private":
	default:
		return unsupportedValue("memoryBacking/access", "mode", m.access)
	}
	switch m.allocation {
	case "", "immediate", "ondemand":
	default:
		return unsupportedValue("memoryBacking/allocation", "mode", m.allocation)
	}
	if len(m.pages) == 0 {
		return nil
	}
	if m.allocation == "ondemand" {
		return unsupported("hugepages are not allowed with memory allocation ondemand")
	}
	if m.allocThreads > 0 && !b.caps.Has("memory-backend-file.prealloc-threads") {
		return unsupported("preallocation threads are unsupported with this QEMU")
	}
	if m.source == "anonymous" {
		return unsupported("hugepages are not allowed with anonymous memory source")
	}
	if m.source == "memfd" && !b.caps.Has("memory-backend-memfd.hugetlb") {
		return unsupported("hugepages is not supported with memfd memory source")
	}
	return nil
}

// memDev is one memory backend to build: the default RAM, a NUMA cell's
// or a memory device's.
type memDev struct {
	model       string // "" for RAM, dimm, nvdimm, virtio-pmem, virtio-mem
	alias       string // device alias (RAM: the backend id)
	targetNode  int    // -1 without NUMA
	sizeKiB     uint64
	pagesize    uint64
	access      string
	discard     string // yes, no or ""
	nvdimmPath  string
	pmem        bool
	alignKiB    uint64
	sourceNodes []int
}

// defaultRAMID is the id QEMU gives the machine's RAM (pc.ram), under
// which libvirt creates it itself.
func (b *builder) defaultRAMID() string {
	if m, ok := b.caps.(interface {
		Machine(virtType, name string) (caps.Machine, bool)
	}); ok {
		if mi, ok := m.Machine(b.def.Type, b.machine); ok && mi.DefaultRAM != "" {
			return mi.DefaultRAM
		}
	}
	return "pc.ram"
}

// numaMemSupported is the machine's numa-mem-supported: -numa node,mem=
// is still accepted (machine types before 5.1).
func (b *builder) numaMemSupported() bool {
	if m, ok := b.caps.(interface {
		Machine(virtType, name string) (caps.Machine, bool)
	}); ok {
		if mi, ok := m.Machine(b.def.Type, b.machine); ok {
			return mi.NUMAMem
		}
	}
	return false
}

// pagesize is qemuBuildMemoryGetPagesize: the huge page size a backend
// uses, whether it must be a file backend for it, and prealloc.
func (b *builder) pagesize(m *backing, md *memDev) (size uint64, need, use, prealloc bool, err error) {
	size = md.pagesize
	need, use = size != 0, size != 0
	if size == 0 {
		var master *page
		found := false
		for i := range m.pages {
			p := &m.pages[i]
			if p.nodes == nil {
				master = p
				continue
			}
			if md.targetNode < 0 {
				continue
			}
			if contains(intsToStrings(p.nodes), strconv.Itoa(md.targetNode)) {
				need, found = true, true
				size, use = p.sizeKiB, true
				break
			}
		}
		if !found && master != nil {
			size, use = master.sizeKiB, true
		}
	}
	h := b.host()
	if size == h.PageSizeKiB {
		size, need, use = 0, false, false
	} else if use && size == 0 {
		if size, err = b.defaultHugepage(); err != nil {
			return 0, false, false, false, err
		}
	}
	prealloc = m.allocation == "immediate"
	if md.nvdimmPath != "" {
		if !md.pmem && md.model != "virtio-pmem" {
			prealloc = true
		}
	} else if use {
		prealloc = true
	}
	return size, need, use, prealloc, nil
}

// defaultHugepage is qemuBuildMemoryGetDefaultPagesize: the system's
// default huge page size, else the first mount's.
func (b *builder) defaultHugepage() (uint64, error) {
	h := b.host()
	if len(h.Hugepages) == 0 {
		return 0, internalError("hugetlbfs filesystem is not mounted or disabled by administrator config")
	}
	for _, hp := range h.Hugepages {
		if hp.Default {
			return hp.SizeKiB, nil
		}
	}
	return h.Hugepages[0].SizeKiB, nil
}

// hugepagePath is qemuGetDomainHupageMemPath.
func (b *builder) hugepagePath(kib uint64) (string, error) {
	h := b.host()
	if len(h.Hugepages) == 0 {
		return "", internalError("hugetlbfs filesystem is not mounted or disabled by administrator config")
	}
	for _, hp := range h.Hugepages {
		if hp.SizeKiB == kib {
			return hp.Dir + "/libvirt/qemu/" + b.shortName(), nil
		}
	}
	return "", internalError("Unable to find any usable hugetlbfs mount for %d KiB", kib)
}

// shortName is virDomainDefGetShortName: id and at most 20 characters
// of the name.
func (b *builder) shortName() string {
	name := []rune(b.def.Name)
	if len(name) > 20 {
		name = name[:20]
	}
	id := b.def.ID
	if id == 0 {
		id = -1
	}
	return strconv.Itoa(id) + "-" + string(name)
}

// backendProps is qemuBuildMemoryBackendProps; needed reports whether a
// backend object is required for what the definition asks.
func (b *builder) backendProps(id string, md *memDev, force, systemMemory bool) (obj, bool, error) {
	m, err := b.memoryBacking()
	if err != nil {
		return nil, false, err
	}
	nt, err := b.numatune()
	if err != nil {
		return nil, false, err
	}
	cells, err := b.cells()
	if err != nil {
		return nil, false, err
	}
	access, discard := md.access, md.discard
	if md.targetNode >= 0 && md.targetNode < len(cells) {
		if access == "" {
			access = cells[md.targetNode].access
		}
		if discard == "" {
			discard = cells[md.targetNode].discard
		}
	}
	if access == "" {
		access = m.access
	}
	if discard == "" {
		discard = m.discard
	}
	mode := nt.mode(md.targetNode)
	size, need, use, prealloc, err := b.pagesize(m, md)
	if err != nil {
		return nil, false, err
	}
	typ := "memory-backend-file"
	var props obj
	disableCanonical := false
	share := func() {
		switch access {
		case "shared":
			props = props.set("share", true)
		case "private":
			props = props.set("share", false)
		}
	}
	switch {
	case md.nvdimmPath == "" && m.source == "memfd":
		typ = "memory-backend-memfd"
		if use {
			props = props.set("hugetlb", true).set("hugetlbsize", size<<10)
		}
		share()
		disableCanonical = systemMemory
	case use || md.nvdimmPath != "" || access != "" || m.source == "file":
		var path string
		switch {
		case md.nvdimmPath != "":
			path = md.nvdimmPath
		case use:
			if path, err = b.hugepagePath(size); err != nil {
				return nil, false, err
			}
		default:
			path = b.host().MemoryBackingDir + "/" + b.shortName() + "/" + md.alias
		}
		props = props.set("mem-path", path)
		if md.nvdimmPath == "" {
			// A directory QEMU creates the backing file in; the driver
			// makes it (qemuProcessBuildDestroyMemoryPaths).
			dir := path
			if !use {
				dir = filepath.Dir(path)
				if !contains(b.memFiles, path) {
					b.memFiles = append(b.memFiles, path)
				}
			}
			if !contains(b.memDirs, dir) {
				b.memDirs = append(b.memDirs, dir)
			}
		}
		if md.nvdimmPath == "" {
			switch discard {
			case "yes":
				props = props.set("discard-data", true)
			case "no":
				props = props.set("discard-data", false)
			}
		}
		share()
		disableCanonical = systemMemory
	default:
		typ = "memory-backend-ram"
	}
	if disableCanonical && b.caps.Has("memory-backend-file.x-use-canonical-path-for-ramblock-id") {
		props = props.set("x-use-canonical-path-for-ramblock-id", false)
	}
	if md.model == "virtio-mem" {
		if b.caps.Has("memory-backend-file.reserve") {
			props = props.set("reserve", false)
		}
	} else if !b.memPrealloc {
		// With -mem-prealloc all of RAM is preallocated already.
		if prealloc {
			props = props.set("prealloc", true)
		}
		if m.allocThreads > 0 {
			props = props.set("prealloc-threads", m.allocThreads)
		}
	}
	props = props.set("size", md.sizeKiB*1024)
	if md.alignKiB > 0 {
		props = props.set("align", md.alignKiB*1024)
	}
	if md.pmem {
		if !b.caps.Has("memory-backend-file.pmem") {
			return nil, false, unsupported("nvdimm pmem property is not available with this QEMU binary")
		}
		props = props.set("pmem", true)
	}
	nodes := md.sourceNodes
	nodeSpecified := false
	if nodes == nil {
		if nodes, nodeSpecified, err = nt.nodeset(md.targetNode); err != nil {
			return nil, false, err
		}
	}
	for _, n := range nodes {
		if err := b.host().NUMANode(n); err != nil {
			return nil, false, err
		}
	}
	if nodes != nil && mode != "restrictive" {
		policy := mode
		if policy == "strict" {
			policy = "bind"
		}
		props = props.set("host-nodes", nodes).set("policy", policy)
	}
	needed := true
	if !need && md.sourceNodes == nil && !nodeSpecified && md.nvdimmPath == "" && access == "" &&
		m.source != "file" && m.source != "memfd" && !force {
		needed = false
	} else if typ == "memory-backend-memfd" && !b.caps.Has("memory-backend-memfd") {
		return nil, false, unsupported("this qemu doesn't support the memory-backend-memfd object")
	}
	return append(obj{}.set("qom-type", typ).set("id", id), props...), needed, nil
}

// threadContext is qemuBuildThreadContextProps: a preallocating backend
// bound to host nodes preallocates from threads on those nodes.
func (b *builder) threadContext(props obj) obj {
	if !b.caps.Has("thread-context") {
		return props
	}
	nodes, ok := props.get("host-nodes")
	if !ok {
		return props
	}
	if p, _ := props.get("prealloc"); p != true {
		return props
	}
	id, _ := props.get("id")
	tc := "tc-" + id.(string)
	b.object(obj{}.set("qom-type", "thread-context").set("id", tc).set("node-affinity", nodes))
	return props.set("prealloc-context", tc)
}

// memoryInitialKiB is the RAM outside memory devices: the NUMA cells'
// sum, or <memory> less the devices.
func (b *builder) memoryInitialKiB() (uint64, error) {
	cells, err := b.cells()
	if err != nil {
		return 0, err
	}
	if len(cells) > 0 {
		var sum uint64
		for _, c := range cells {
			sum += c.memKiB
		}
		return sum, nil
	}
	devs, err := b.memoryDevices()
	if err != nil {
		return 0, err
	}
	total := b.def.Memory
	for _, d := range devs {
		if total >= d.sizeKiB {
			total -= d.sizeKiB
		}
	}
	return (total + 1023) / 1024 * 1024, nil
}

func (b *builder) emitMemory() error {
	d := b.def
	initial, err := b.memoryInitialKiB()
	if err != nil {
		return err
	}
	devs, err := b.memoryDevices()
	if err != nil {
		return err
	}
	total := initial
	for _, dv := range devs {
		total += dv.sizeKiB
	}
	d.Memory = total
	if d.CurrentMemory > d.Memory || d.CurrentMemory == 0 {
		d.CurrentMemory = d.Memory
	}
	if d.MaxMemory > 0 && d.MaxMemSlots > 0 {
		d.MaxMemory = (d.MaxMemory + 1023) / 1024 * 1024
		b.add("-m", fmt.Sprintf("size=%dk,slots=%d,maxmem=%dk", initial, d.MaxMemSlots, d.MaxMemory))
	} else {
		b.add("-m", strconv.FormatUint(initial/1024, 10))
	}
	if b.numaCells() == 0 {
		props, _, err := b.backendProps(b.defaultRAMID(), &memDev{alias: b.defaultRAMID(), targetNode: -1, sizeKiB: initial}, false, true)
		if err != nil {
			return err
		}
		b.object(b.threadContext(props))
	}
	m, err := b.memoryBacking()
	if err != nil {
		return err
	}
	lock := "off"
	if m.locked {
		lock = "on"
	}
	b.add("-overcommit", "mem-lock="+lock)
	return nil
}

func overlaps(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func intsToStrings(v []int) []string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// virerrDetail is libvirt's VIR_ERR_XML_DETAIL, whose message is the
// detail alone.
func virerrDetail(format string, args ...any) error {
	return xmlDetail(format, args...)
}

// memoryMachineParams are the -machine properties memory devices need
// (nvdimm=on).
func (b *builder) memoryMachineParams() string {
	devs, err := b.memoryDevices()
	if err != nil {
		return ""
	}
	for _, d := range devs {
		if d.model == "nvdimm" {
			return ",nvdimm=on"
		}
	}
	return ""
}

// xmlDetail is libvirt's VIR_ERR_XML_DETAIL.
func xmlDetail(format string, args ...any) error {
	return virerr.New(virerr.FromDomain, virerr.ErrXMLDetail, format, args...)
}
