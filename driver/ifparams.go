package driver

import "govirt/conf"

// DomainInterfaceParams reads and changes an interface's bandwidth
// (virsh domiftune: virDomainGetInterfaceParameters,
// virDomainSetInterfaceParameters). device is the tap name or MAC.
type DomainInterfaceParams interface {
	DomainGetInterfaceParameters(d Domain, device string, flags uint32) ([]TypedParam, error)
	DomainSetInterfaceParameters(d Domain, device string, params []TypedParam, flags uint32) error
}

// Bandwidth parameter names (VIR_DOMAIN_BANDWIDTH_*), in the order
// both libvirt drivers report them.
var bandwidthFields = []string{"inbound.average", "inbound.peak", "inbound.burst", "inbound.floor",
	"outbound.average", "outbound.peak", "outbound.burst"}

// BandwidthParamCount is how many parameters the get call has: what
// nparams 0 asks for.
const BandwidthParamCount = 7

// BandwidthParams is the get call's answer for an interface's rates.
func BandwidthParams(in, out *conf.BandwidthRate) []TypedParam {
	var i, o conf.BandwidthRate
	if in != nil {
		i = *in
	}
	if out != nil {
		o = *out
	}
	vals := []uint64{i.Average, i.Peak, i.Burst, i.Floor, o.Average, o.Peak, o.Burst}
	ps := make([]TypedParam, len(vals))
	for k, v := range vals {
		ps[k] = TypedParam{Field: bandwidthFields[k], Value: uint32(v)}
	}
	return ps
}

// BandwidthChange is what a set call asks: the rates given (a direction
// without average or floor is nil) and whether each direction was named
// at all (an average or floor of 0 clears it).
type BandwidthChange struct {
	In, Out                   *conf.BandwidthRate
	InSpecified, OutSpecified bool
}

// ParseBandwidthParams validates the set call's parameters as
// virTypedParamsValidate and reads them as both libvirt drivers do.
func ParseBandwidthParams(params []TypedParam) (BandwidthChange, error) {
	want := map[string]string{}
	for _, f := range bandwidthFields {
		want[f] = "uint"
	}
	if err := ValidateParams(params, want); err != nil {
		return BandwidthChange{}, err
	}
	var c BandwidthChange
	in, out := &conf.BandwidthRate{}, &conf.BandwidthRate{}
	for _, p := range params {
		v := uint64(p.Value.(uint32))
		switch p.Field {
		case "inbound.average":
			in.Average, c.InSpecified = v, true
		case "inbound.peak":
			in.Peak = v
		case "inbound.burst":
			in.Burst = v
		case "inbound.floor":
			in.Floor, c.InSpecified = v, true
		case "outbound.average":
			out.Average, c.OutSpecified = v, true
		case "outbound.peak":
			out.Peak = v
		case "outbound.burst":
			out.Burst = v
		}
	}
	if in.Average != 0 || in.Floor != 0 {
		c.In = in
	}
	if out.Average != 0 {
		c.Out = out
	}
	return c, nil
}

// MergeConfig is how both drivers change a definition's rates: a
// direction given replaces the old one, one named with a zero rate is
// cleared, others stay.
func (c BandwidthChange) MergeConfig(in, out *conf.BandwidthRate) (*conf.BandwidthRate, *conf.BandwidthRate) {
	if c.In != nil || c.InSpecified {
		in = c.In
	}
	if c.Out != nil || c.OutSpecified {
		out = c.Out
	}
	return in, out
}
