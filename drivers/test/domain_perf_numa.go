package test

import (
	"govirt/driver"
)

// perf and numatune as libvirt's test driver answers them: from the
// definition the flags name.

// perfEventNames are libvirt 9.0's perf events in its order.
var perfEventNames = []string{"cmt", "mbmt", "mbml", "cpu_cycles", "instructions",
	"cache_references", "cache_misses", "branch_instructions", "branch_misses",
	"bus_cycles", "stalled_cycles_frontend", "stalled_cycles_backend",
	"ref_cpu_cycles", "cpu_clock", "task_clock", "page_faults",
	"context_switches", "cpu_migrations", "page_faults_min", "page_faults_maj",
	"alignment_faults", "emulation_faults"}

// DomainGetPerfEvents is testDomainGetPerfEvents.
func (in *instance) DomainGetPerfEvents(d driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, affectLive|affectConfig|typedParamStringOkay, "testDomainGetPerfEvents"); err != nil {
		return nil, err
	}
	var out []driver.TypedParam
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags &^ typedParamStringOkay)
		if err != nil {
			return err
		}
		enabled := map[string]bool{}
		if perf := def.Tree().Child("perf"); perf != nil {
			for _, e := range perf.Children("event") {
				name, _ := e.Attr("name")
				on, _ := e.Attr("enabled")
				enabled[name] = on == "yes"
			}
		}
		for _, name := range perfEventNames {
			out = append(out, driver.TypedParam{Field: name, Value: enabled[name]})
		}
		return nil
	})
	return out, err
}

// numaModes are virDomainNumatuneMemMode's values by name.
var numaModes = map[string]int32{"strict": 0, "preferred": 1, "interleave": 2, "restrictive": 3}

// DomainGetNumaParameters is testDomainGetNumaParameters: the memory mode
// (strict unless <numatune> says otherwise) and node set.
func (in *instance) DomainGetNumaParameters(d driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, affectLive|affectConfig|typedParamStringOkay, "testDomainGetNumaParameters"); err != nil {
		return nil, err
	}
	var out []driver.TypedParam
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags &^ typedParamStringOkay)
		if err != nil {
			return err
		}
		mode := int32(0)
		if m, ok := def.Value("numatune/memory/@mode"); ok {
			mode = numaModes[m]
		}
		nodeset, _ := def.Value("numatune/memory/@nodeset")
		out = []driver.TypedParam{{Field: "numa_mode", Value: mode}, {Field: "numa_nodeset", Value: nodeset}}
		return nil
	})
	return out, err
}
