package driver

import (
	"fmt"
	"sort"

	"govirt/virerr"
)

// NodeMemoryParams reads and tunes the host's kernel same-page merging
// (virNodeGetMemoryParameters, virNodeSetMemoryParameters).
type NodeMemoryParams interface {
	NodeGetMemoryParameters(flags uint32) ([]TypedParam, error)
	NodeSetMemoryParameters(params []TypedParam, flags uint32) error
}

// DomainPerfEvents reports a guest's perf event switches
// (virDomainGetPerfEvents).
type DomainPerfEvents interface {
	DomainGetPerfEvents(d Domain, flags uint32) ([]TypedParam, error)
}

// DomainPerfEventsSetter switches a guest's perf events
// (virDomainSetPerfEvents).
type DomainPerfEventsSetter interface {
	DomainSetPerfEvents(d Domain, params []TypedParam, flags uint32) error
}

// DomainLaunchSecurity reports a guest's launch security measurement
// (virDomainGetLaunchSecurityInfo).
type DomainLaunchSecurity interface {
	DomainGetLaunchSecurityInfo(d Domain, flags uint32) ([]TypedParam, error)
}

// DomainNumaParams reports a guest's NUMA memory mode and node set
// (virDomainGetNumaParameters).
type DomainNumaParams interface {
	DomainGetNumaParameters(d Domain, flags uint32) ([]TypedParam, error)
}

// DomainNumaParamsSetter changes a guest's NUMA memory mode and node set
// (virDomainSetNumaParameters).
type DomainNumaParamsSetter interface {
	DomainSetNumaParameters(d Domain, params []TypedParam, flags uint32) error
}

// ParamKind is libvirt's name of a typed parameter's type.
func ParamKind(v any) string {
	switch v.(type) {
	case int32:
		return "int"
	case uint32:
		return "uint"
	case int64:
		return "llong"
	case uint64:
		return "ullong"
	case float64:
		return "double"
	case bool:
		return "boolean"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// ValidateParams is virTypedParamsValidate: every field known (want maps
// it to its type's name), of that type and given once. Like libvirt it
// walks the parameters and the known names both sorted by name, so when
// several are wrong the one reported is libvirt's.
func ValidateParams(params []TypedParam, want map[string]string) error {
	sorted := append([]TypedParam(nil), params...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Field < sorted[j].Field })
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	i, j := 0, 0
	last := ""
	for i < len(sorted) && j < len(keys) {
		p := sorted[i]
		if p.Field != keys[j] {
			j++
			continue
		}
		if i > 0 && last == p.Field {
			return virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "parameter '%s' occurs multiple times", p.Field)
		}
		if got := ParamKind(p.Value); got != want[keys[j]] {
			return virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "invalid type '%s' for parameter '%s', expected '%s'", got, p.Field, want[keys[j]])
		}
		last = p.Field
		i++
	}
	if j == len(keys) && i != len(sorted) {
		return virerr.New(virerr.FromNone, virerr.ErrArgumentUnsupported, "parameter '%s' not supported", sorted[i].Field)
	}
	return nil
}

// NodePages reads and sizes the host's page pools per NUMA cell
// (virNodeGetFreePages, virNodeAllocPages); sizes are in KiB.
type NodePages interface {
	// NodeGetFreePages returns, cell by cell, the free count of each
	// size.
	NodeGetFreePages(sizes []uint32, startCell int32, cellCount uint32, flags uint32) ([]uint64, error)
	NodeAllocPages(sizes []uint32, counts []uint64, startCell int32, cellCount uint32, flags uint32) (int32, error)
}

// DomainBlockIOTune reads and changes a disk's I/O throttling (virsh
// blkdeviotune: virDomainGetBlockIoTune, virDomainSetBlockIoTune).
type DomainBlockIOTune interface {
	DomainGetBlockIOTune(d Domain, disk string, flags uint32) ([]TypedParam, error)
	DomainSetBlockIOTune(d Domain, disk string, params []TypedParam, flags uint32) error
}
