package remote

import (
	"govirt/driver"
	"govirt/virerr"
)

func wireDom(d driver.Domain) NonnullDomain {
	return NonnullDomain{Name: d.Name, UUID: d.UUID, ID: d.ID}
}

func drvDom(d NonnullDomain) driver.Domain {
	return driver.Domain{Name: d.Name, UUID: d.UUID, ID: d.ID}
}

func wireNet(n driver.Network) NonnullNetwork { return NonnullNetwork{Name: n.Name, UUID: n.UUID} }
func drvNet(n NonnullNetwork) driver.Network  { return driver.Network{Name: n.Name, UUID: n.UUID} }

func wirePool(p driver.Pool) NonnullStoragePool {
	return NonnullStoragePool{Name: p.Name, UUID: p.UUID}
}
func drvPool(p NonnullStoragePool) driver.Pool { return driver.Pool{Name: p.Name, UUID: p.UUID} }

func wireVol(v driver.Vol) NonnullStorageVol {
	return NonnullStorageVol{Pool: v.Pool, Name: v.Name, Key: v.Key}
}
func drvVol(v NonnullStorageVol) driver.Vol {
	return driver.Vol{Pool: v.Pool, Name: v.Name, Key: v.Key}
}

func wireIface(i driver.Interface) NonnullInterface {
	return NonnullInterface{Name: i.Name, MAC: i.MAC}
}
func drvIface(i NonnullInterface) driver.Interface {
	return driver.Interface{Name: i.Name, MAC: i.MAC}
}

func wireSnap(s driver.Snapshot) NonnullDomainSnapshot {
	return NonnullDomainSnapshot{Name: s.Name, Dom: wireDom(s.Dom)}
}
func drvSnap(s NonnullDomainSnapshot) driver.Snapshot {
	return driver.Snapshot{Name: s.Name, Dom: drvDom(s.Dom)}
}

func mapSlice[A, B any](in []A, f func(A) B) []B {
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

// charArray is how XDR `char x<N>` fields travel: one int per byte, with
// the terminating NUL libvirt includes.
func charArray(s string) []int32 {
	out := make([]int32, len(s)+1)
	for i := 0; i < len(s); i++ {
		out[i] = int32(int8(s[i]))
	}
	return out
}

func strPtr(s string) *string { return &s }

func optString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// paramsFromWire converts typed parameters from the wire.
func paramsFromWire(in []TypedParam) []driver.TypedParam {
	out := make([]driver.TypedParam, len(in))
	for i, p := range in {
		out[i] = driver.TypedParam{Field: p.Field, Value: p.Value}
	}
	return out
}

// paramsToWire converts typed parameters for the wire, dropping string
// parameters unless the caller said it understands them
// (VIR_TYPED_PARAM_STRING_OKAY), as libvirt does.
func paramsToWire(in []driver.TypedParam, flags uint32) []TypedParam {
	const stringOkay = 1 << 2
	out := make([]TypedParam, 0, len(in))
	for _, p := range in {
		if _, isStr := p.Value.(string); isStr && flags&stringOkay == 0 {
			continue
		}
		out = append(out, TypedParam{Field: p.Field, Value: p.Value})
	}
	return out
}

var errNotOpen = virerr.New(virerr.FromRPC, virerr.ErrInternalError, "connection not open")
