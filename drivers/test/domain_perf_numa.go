package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
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

// DomainSetPerfEvents is testDomainSetPerfEvents: the switches are
// written into <perf> of the one definition the flags name.
func (in *instance) DomainSetPerfEvents(d driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetPerfEvents"); err != nil {
		return err
	}
	want := map[string]string{}
	for _, n := range perfEventNames {
		want[n] = "boolean"
	}
	if err := driver.ValidateParams(params, want); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		changes := map[string]bool{}
		for _, p := range params {
			changes[p.Field] = p.Value.(bool)
		}
		return def.SetPerfEvents(perfEventNames, changes)
	})
}

// DomainSetNumaParameters is testDomainSetNumaParameters: the mode and
// node set of the one definition the flags name; a running guest keeps
// its mode.
func (in *instance) DomainSetNumaParameters(d driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetNumaParameters"); err != nil {
		return err
	}
	if err := driver.ValidateParams(params, map[string]string{"numa_mode": "int", "numa_nodeset": "string"}); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, live, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		mode, nodeset := -1, ""
		for _, p := range params {
			switch p.Field {
			case "numa_mode":
				m := p.Value.(int32)
				if m < 0 || int(m) >= len(conf.NumatuneModes) {
					return errTest(virerr.ErrInvalidArg, "unsupported numatune mode: '%d'", m)
				}
				mode = int(m)
			case "numa_nodeset":
				s := p.Value.(string)
				set, err := conf.ParseBitmap(s)
				if err != nil {
					return err
				}
				if len(set) == 0 {
					return errTest(virerr.ErrOperationInvalid, "Invalid nodeset of 'numatune': %s", s)
				}
				nodeset = conf.FormatBitmap(set)
			}
		}
		if live && mode != -1 {
			if nt := def.Tree().Child("numatune"); nt != nil && nt.Child("memory") != nil {
				cur, _ := def.Value("numatune/memory/@mode")
				if cur == "" {
					cur = "strict"
				}
				if cur != conf.NumatuneModes[mode] {
					return errTest(virerr.ErrOperationInvalid, "can't change numatune mode for running domain")
				}
			}
		}
		if err := def.SetNumatune(mode, nodeset); err != nil {
			return errTest(virerr.ErrConfigUnsupported, "%s", err.Error())
		}
		return nil
	})
}
