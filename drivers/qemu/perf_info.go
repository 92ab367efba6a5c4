package qemu

import (
	"govirt/conf"
	"govirt/driver"
)

// Perf events and launch security: what a guest reports without the host
// features (perf counters, SEV) being in use.

// perfEvents are libvirt 9.0's perf event names, in its order.
var perfEvents = []string{"cmt", "mbmt", "mbml", "cpu_cycles", "instructions",
	"cache_references", "cache_misses", "branch_instructions", "branch_misses",
	"bus_cycles", "stalled_cycles_frontend", "stalled_cycles_backend",
	"ref_cpu_cycles", "cpu_clock", "task_clock", "page_faults",
	"context_switches", "cpu_migrations", "page_faults_min", "page_faults_maj",
	"alignment_faults", "emulation_faults"}

// DomainGetPerfEvents is qemuDomainGetPerfEvents: whether each perf event
// is enabled in the definition's <perf>.
func (c *conn) DomainGetPerfEvents(h driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	def, _, err := c.readDef(h, flags&^vtpStringOkay, "qemuDomainGetPerfEvents")
	if err != nil {
		return nil, err
	}
	enabled := map[string]bool{}
	if tree := def.Tree(); tree != nil {
		if perf := tree.Child("perf"); perf != nil {
			for _, e := range perf.Children("event") {
				name, _ := e.Attr("name")
				on, _ := e.Attr("enabled")
				enabled[name] = on == "yes"
			}
		}
	}
	out := make([]driver.TypedParam, len(perfEvents))
	for i, name := range perfEvents {
		out[i] = driver.TypedParam{Field: name, Value: enabled[name]}
	}
	return out, nil
}

// DomainGetLaunchSecurityInfo is qemuDomainGetLaunchSecurityInfo: nothing
// for a guest without SEV (this host has none to measure).
func (c *conn) DomainGetLaunchSecurityInfo(h driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	err := c.withVM(h, func(*vm) error { return nil })
	return nil, err
}

// numaModeValues are virDomainNumatuneMemMode's values by name.
var numaModeValues = map[string]int32{"strict": 0, "preferred": 1, "interleave": 2, "restrictive": 3}

// DomainGetNumaParameters is qemuDomainGetNumaParameters: the memory mode
// and node set of the definition's <numatune>.
func (c *conn) DomainGetNumaParameters(h driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	def, isLive, err := c.readDef(h, flags&^vtpStringOkay, "qemuDomainGetNumaParameters")
	if err != nil {
		return nil, err
	}
	mode := int32(0)
	if m, ok := def.Value("numatune/memory/@mode"); ok {
		mode = numaModeValues[m]
	}
	nodeset, _ := def.Value("numatune/memory/@nodeset")
	// virDomainNumatuneFormatNodeset: placement='auto' shows numad's
	// advice while the guest runs, "" otherwise.
	if p, _ := def.Value("numatune/memory/@placement"); p == "auto" && isLive {
		if ap := c.liveAuto(h); ap != nil {
			nodeset = conf.FormatBitmap(ap.nodes)
		}
	}
	return []driver.TypedParam{{Field: "numa_mode", Value: mode}, {Field: "numa_nodeset", Value: nodeset}}, nil
}
