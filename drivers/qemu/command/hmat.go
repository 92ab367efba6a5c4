package command

import (
	"strconv"

	"govirt/conf"
)

// NUMA HMAT (<cpu><numa> interconnects and cell caches): -numa hmat-lb
// and hmat-cache after the nodes, each node's initiator
// (qemuBuildNumaHMATCommandLine, qemuBuildNumaCellCache), with libvirt's
// checks (virDomainNumaDefValidate).

type interconnect struct {
	latency                  bool // latency, else bandwidth
	initiator, target, cache int
	access                   string
	value                    uint64 // ns or KiB/s
}

type numaCache struct {
	level, sizeKiB, line uint64
	assoc, policy        string
}

var hmatHierarchy = []string{"memory", "first-level", "second-level", "third-level"}

func (b *builder) interconnects(cells []cell) ([]interconnect, error) {
	var out []interconnect
	ic := child(b.tree(), "cpu", "numa", "interconnects")
	if ic == nil {
		return nil, nil
	}
	for _, e := range ic.Children("") {
		var l interconnect
		switch e.Name() {
		case "latency":
			l.latency = true
			v, err := strconv.ParseUint(attr(e, "value"), 10, 64)
			if err != nil {
				return nil, xmlError("Invalid value for attribute 'value' in element 'latency': '%s'.", attr(e, "value"))
			}
			l.value = v
		case "bandwidth":
			unit := attr(e, "unit")
			if unit == "" {
				unit = "KiB"
			}
			v, err := scaled(attr(e, "value"), unit, 1024)
			if err != nil {
				return nil, err
			}
			l.value = v
		default:
			continue
		}
		var err error
		if l.initiator, err = strconv.Atoi(attr(e, "initiator")); err != nil {
			return nil, xmlError("Missing required attribute 'initiator' in element '%s'", e.Name())
		}
		if l.target, err = strconv.Atoi(attr(e, "target")); err != nil {
			return nil, xmlError("Missing required attribute 'target' in element '%s'", e.Name())
		}
		if c := attr(e, "cache"); c != "" {
			if l.cache, err = strconv.Atoi(c); err != nil || l.cache < 0 || l.cache > 3 {
				return nil, xmlError("Invalid value for attribute 'cache' in element '%s': '%s'.", e.Name(), c)
			}
		}
		l.access = attr(e, "type")
		switch l.access {
		case "access", "read", "write":
		default:
			return nil, xmlError("Invalid value for attribute 'type' in element '%s': '%s'.", e.Name(), l.access)
		}
		if l.initiator >= len(cells) || l.initiator < 0 {
			return nil, xmlError("'initiator' refers to a non-existent NUMA node")
		}
		if l.target >= len(cells) || l.target < 0 {
			return nil, xmlError("'target' refers to a non-existent NUMA node")
		}
		if len(cells[l.initiator].cpus) == 0 {
			return nil, xmlError("NUMA nodes without CPUs can't be initiator")
		}
		if l.cache > 0 {
			found := false
			for _, c := range cells[l.target].caches {
				if int(c.level) == l.cache {
					found = true
				}
			}
			if !found {
				return nil, xmlError("'cache' refers to a non-existent NUMA node cache")
			}
		}
		for _, ll := range out {
			if l.latency == ll.latency && l.initiator == ll.initiator && l.target == ll.target &&
				l.cache == ll.cache && l.access == ll.access {
				return nil, xmlError("Duplicate info for NUMA latencies")
			}
			if l.initiator != l.target && l.initiator == ll.target && l.target == ll.initiator {
				return nil, xmlError("Link already defined")
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// parseCaches reads a cell's <cache> elements
// (virDomainNumaDefNodeCacheParseXML).
func parseCaches(e *conf.Element, cell int) ([]numaCache, error) {
	var out []numaCache
	for _, c := range e.Children("cache") {
		var ca numaCache
		lv := attr(c, "level")
		if lv == "" {
			return nil, xmlError("Missing 'level' attribute in cache element for NUMA node %d", cell)
		}
		n, err := strconv.ParseUint(lv, 10, 32)
		if err != nil || n == 0 {
			return nil, xmlError("Invalid 'level' attribute in cache element for NUMA node %d", cell)
		}
		ca.level = n
		ca.assoc, ca.policy = attr(c, "associativity"), attr(c, "policy")
		switch ca.assoc {
		case "none", "direct", "full":
		case "":
			return nil, xmlError("Missing 'associativity' attribute in cache element for NUMA node %d", cell)
		default:
			return nil, xmlError("Invalid cache associativity '%s'", ca.assoc)
		}
		switch ca.policy {
		case "none", "writeback", "writethrough":
		default:
			return nil, xmlError("Invalid cache policy '%s'", ca.policy)
		}
		sz := child(c, "size")
		if sz == nil {
			return nil, xmlError("Missing 'size' element in cache element for NUMA node %d", cell)
		}
		unit := attr(sz, "unit")
		if unit == "" {
			unit = "KiB"
		}
		if ca.sizeKiB, err = scaled(attr(sz, "value"), unit, 1024); err != nil {
			return nil, err
		}
		if ln := child(c, "line"); ln != nil {
			if ca.line, err = scaledBytes(attr(ln, "value"), attr(ln, "unit"), 1); err != nil {
				return nil, err
			}
		}
		out = append(out, ca)
	}
	return out, nil
}

// initiator is virDomainNumaGetNodeInitiator: a node with CPUs is its
// own; otherwise the one with the lowest latency, else the highest
// bandwidth, to it.
func initiator(cells []cell, ics []interconnect, node int) int {
	if len(cells[node].cpus) > 0 {
		return node
	}
	minLat, candLat := uint64(1<<63), -1
	maxBW, candBW := uint64(0), -1
	for _, l := range ics {
		if l.target != node {
			continue
		}
		if l.latency {
			if l.value < minLat {
				minLat, candLat = l.value, l.initiator
			}
		} else if l.value > maxBW {
			maxBW, candBW = l.value, l.initiator
		}
	}
	if candLat >= 0 {
		return candLat
	}
	return candBW
}

func (b *builder) emitHMAT(cells []cell, ics []interconnect) {
	for _, l := range ics {
		s := "hmat-lb,initiator=" + strconv.Itoa(l.initiator) + ",target=" + strconv.Itoa(l.target) +
			",hierarchy=" + hmatHierarchy[l.cache] + ",data-type=" + l.access + "-"
		if l.latency {
			s += "latency,latency=" + strconv.FormatUint(l.value, 10)
		} else {
			s += "bandwidth,bandwidth=" + strconv.FormatUint(l.value, 10) + "K"
		}
		b.add("-numa", s)
	}
	for i, c := range cells {
		for _, ca := range c.caches {
			assoc := map[string]string{"none": "none", "direct": "direct", "full": "complex"}[ca.assoc]
			policy := map[string]string{"none": "none", "writeback": "write-back", "writethrough": "write-through"}[ca.policy]
			s := "hmat-cache,node-id=" + strconv.Itoa(i) + ",size=" + strconv.FormatUint(ca.sizeKiB, 10) + "K,level=" +
				strconv.FormatUint(ca.level, 10) + ",associativity=" + assoc + ",policy=" + policy
			if ca.line > 0 {
				s += ",line=" + strconv.FormatUint(ca.line, 10)
			}
			b.add("-numa", s)
		}
	}
}
