package caps

import (
	"context"
	"fmt"
)

// HostCPUModel is QEMU's static expansion of the CPU a guest gets with
// host-model: model "host" under KVM, "max" under TCG, asked twice as
// libvirt does (migratable and not) so each feature's migratability is
// known. Features are QEMU's canonical names, sorted.
type HostCPUModel struct {
	Enabled       []string `json:"enabled"`                 // on in either expansion
	NonMigratable []string `json:"nonMigratable,omitempty"` // on only with migratable=off
	Props         []string `json:"props,omitempty"`         // every boolean property
	Vendor        string   `json:"vendor,omitempty"`
	Family        uint32   `json:"family,omitempty"`
	Model         uint32   `json:"model,omitempty"`
	Stepping      uint32   `json:"stepping,omitempty"`
}

// HostCPUFor returns the host-model expansion for a domain type.
func (c *Caps) HostCPUFor(virtType string) *HostCPUModel {
	if virtType == "qemu" {
		if c.TCGHostCPU != nil {
			return c.TCGHostCPU
		}
		if c.KVM.Enabled {
			return nil
		}
	} else if !c.KVM.Enabled {
		return nil
	}
	return c.HostCPU
}

type cpuModelArg struct {
	Name  string         `json:"name"`
	Props map[string]any `json:"props,omitempty"`
}

type cpuExpansionReply struct {
	Model struct {
		Name  string         `json:"name"`
		Props map[string]any `json:"props"`
	} `json:"model"`
}

// probeHostCPU runs libvirt's virQEMUCapsProbeQMPHostCPU questions;
// a QEMU that refuses them just has no host-model.
func probeHostCPU(ctx context.Context, m Monitor, c *Caps, model string) (*HostCPUModel, error) {
	if !c.HasCommand("query-cpu-model-expansion") {
		return nil, nil
	}
	ask := func(props map[string]any) (map[string]any, bool, error) {
		var r cpuExpansionReply
		args := map[string]any{"type": "static", "model": cpuModelArg{Name: model, Props: props}}
		err := m.Execute(ctx, "query-cpu-model-expansion", args, &r)
		if err != nil {
			if isCommandError(err) {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("query-cpu-model-expansion: %w", err)
		}
		return r.Model.Props, true, nil
	}
	mig, ok, err := ask(nil)
	if err != nil || !ok || len(mig) == 0 {
		return nil, err
	}
	nonMig, _, err := ask(map[string]any{"migratable": false})
	if err != nil {
		return nil, err
	}
	h := &HostCPUModel{}
	num := func(v any) uint32 {
		f, _ := v.(float64)
		return uint32(f)
	}
	for name, v := range mig {
		switch x := v.(type) {
		case bool:
			h.Props = append(h.Props, name)
			if x {
				h.Enabled = append(h.Enabled, name)
			} else if nb, _ := nonMig[name].(bool); nb {
				h.Enabled = append(h.Enabled, name)
				h.NonMigratable = append(h.NonMigratable, name)
			}
		case string:
			if name == "vendor" {
				h.Vendor = x
			}
		case float64:
			switch name {
			case "family":
				h.Family = num(x)
			case "model":
				h.Model = num(x)
			case "stepping":
				h.Stepping = num(x)
			}
		}
	}
	h.Enabled = sortUniq(h.Enabled)
	h.NonMigratable = sortUniq(h.NonMigratable)
	h.Props = sortUniq(h.Props)
	return h, nil
}

// FeatureNames lists the features QEMU knows for this CPU, in libvirt's
// names, without the non-migratable ones when migratable is set
// (virQEMUCapsGetCPUFeatures): hypervisor-cpu-baseline keeps only these.
func (h *HostCPUModel) FeatureNames(migratable bool, fromQEMU func(string) string) []string {
	out := make([]string, 0, len(h.Props))
	for _, p := range h.Props {
		if migratable && sortedHas(h.NonMigratable, p) {
			continue
		}
		out = append(out, fromQEMU(p))
	}
	return out
}
