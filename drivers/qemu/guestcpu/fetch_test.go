package guestcpu

import (
	"context"
	"encoding/json"
	"testing"

	"govirt/internal/cpux86"
)

// fakeCPUMon answers query-cpus-fast, qom-list and qom-get for one vCPU
// and records which properties were read.
type fakeCPUMon struct {
	props map[string]any // name -> value (bool props and unavailable-features)
	read  []string
}

func (f *fakeCPUMon) Execute(_ context.Context, cmd string, args, ret any) error {
	var v any
	switch cmd {
	case "query-cpus-fast":
		v = []map[string]any{{"cpu-index": 0, "qom-path": "/machine/unattached/device[0]"}}
	case "qom-list":
		var l []map[string]string
		for n, val := range f.props {
			t := "bool"
			if _, ok := val.(bool); !ok {
				t = "strList"
			}
			l = append(l, map[string]string{"name": n, "type": t})
		}
		v = l
	case "qom-get":
		p := args.(qomGetArgs).Property
		f.read = append(f.read, p)
		v = f.props[p]
	}
	b, _ := json.Marshal(v)
	return json.Unmarshal(b, ret)
}

// Fetch reads only the properties that name a feature it records, and
// finds the same CPU as reading them all would.
func TestFetchReadsOnlyKnownFeatures(t *testing.T) {
	mon := &fakeCPUMon{props: map[string]any{
		"sse4.1": true, "sse4_1": true, "sse4-1": true, // QEMU's aliases
		"pclmulqdq": true, "avx": false, "kvm-pv-unhalt": true,
		"enforce": false, "pmu": true, "realized": true, "hv-relaxed": true,
		"unavailable-features": []string{"avx"},
	}}
	enabled, disabled, err := Fetch(context.Background(), mon)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range mon.read {
		got[n] = true
	}
	for _, n := range []string{"sse4.1", "pclmulqdq", "avx", "kvm-pv-unhalt", "hv-relaxed", "unavailable-features"} {
		if !got[n] {
			t.Errorf("%s not read (read %v)", n, mon.read)
		}
	}
	for _, n := range []string{"sse4_1", "sse4-1", "enforce", "pmu", "realized"} {
		if got[n] {
			t.Errorf("%s read, but it is no feature libvirt records", n)
		}
	}
	m, _ := cpux86.Get()
	for name, want := range map[string]bool{"sse4.1": true, "pclmuldq": true, "avx": false, "kvm_pv_unhalt": true, "hv-relaxed": true} {
		if has, err := m.HasFeature(enabled, name); err != nil || has != want {
			t.Errorf("enabled %s = %v, %v; want %v", name, has, err, want)
		}
	}
	if has, _ := m.HasFeature(disabled, "avx"); !has {
		t.Error("avx not disabled")
	}
}
