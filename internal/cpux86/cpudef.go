package cpux86

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// CPU types: a host CPU (features without policy) or a guest CPU.
const (
	TypeHost  = "host"
	TypeGuest = "guest"
)

// Feature policies; PolicyNone is a host CPU's feature.
const (
	PolicyNone     = ""
	PolicyForce    = "force"
	PolicyRequire  = "require"
	PolicyOptional = "optional"
	PolicyDisable  = "disable"
	PolicyForbid   = "forbid"
)

// FeatureDef is one <feature> of a CPU definition.
type FeatureDef struct {
	Name   string
	Policy string
}

// CPUDef is the part of libvirt's virCPUDef the CPU APIs use.
type CPUDef struct {
	Type     string // TypeHost or TypeGuest
	Mode     string // guest: custom, host-model, host-passthrough, maximum
	Match    string // guest: exact (default), minimum, strict
	Arch     string
	Model    string
	Fallback string // guest: allow (default) or forbid
	Vendor   string
	Features []FeatureDef
	// HasSig reports a <signature> (host CPU of the capabilities).
	HasSig                bool
	Family, Mdl, Stepping uint32
}

// Error is a parse or computation failure carrying libvirt's error kind.
type Error struct {
	Code int // a virerr code, set by the caller's mapping
	Kind string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Error kinds; the driver maps them to virerr codes.
const (
	KindXML          = "xml"          // VIR_ERR_XML_ERROR
	KindConfig       = "config"       // VIR_ERR_CONFIG_UNSUPPORTED
	KindInternal     = "internal"     // VIR_ERR_INTERNAL_ERROR
	KindInvalidArg   = "invalid-arg"  // VIR_ERR_INVALID_ARG
	KindOperation    = "operation"    // VIR_ERR_OPERATION_FAILED
	KindIncompatible = "incompatible" // VIR_ERR_CPU_INCOMPATIBLE
	KindNoSupport    = "no-support"   // VIR_ERR_NO_SUPPORT
)

func errf(kind, format string, a ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

type xCPU struct {
	XMLName    xml.Name
	Mode       *string `xml:"mode,attr"`
	Match      *string `xml:"match,attr"`
	Migratable *string `xml:"migratable,attr"`
	Arch       *string `xml:"arch"`
	Model      *struct {
		Name     string  `xml:",chardata"`
		Fallback *string `xml:"fallback,attr"`
	} `xml:"model"`
	Vendor    *string `xml:"vendor"`
	Signature *struct {
		Family   string `xml:"family,attr"`
		Model    string `xml:"model,attr"`
		Stepping string `xml:"stepping,attr"`
	} `xml:"signature"`
	Features []struct {
		Name   *string `xml:"name,attr"`
		Policy *string `xml:"policy,attr"`
	} `xml:"feature"`
}

// ParseXML parses one <cpu> element as libvirt's virCPUDefParseXML does;
// typ is TypeHost, TypeGuest or "" (auto: host when it has <arch>).
func ParseXML(doc, typ string) (*CPUDef, error) {
	if strings.TrimSpace(doc) == "" {
		return nil, errf(KindInvalidArg, "missing CPU definition")
	}
	var x xCPU
	if err := xml.Unmarshal([]byte(doc), &x); err != nil {
		return nil, errf(KindXML, "(CPU_definition):%v", err)
	}
	if x.XMLName.Local != "cpu" {
		return nil, errf(KindXML, "XML does not contain expected 'cpu' element")
	}
	d := &CPUDef{Type: typ}
	if d.Type == "" {
		d.Type = TypeGuest
		if x.Arch != nil {
			if x.Match != nil {
				return nil, errf(KindXML, "'arch' element cannot be used inside 'cpu' element with 'match' attribute'")
			}
			d.Type = TypeHost
		}
	}
	if x.Mode != nil {
		if d.Type == TypeHost {
			return nil, errf(KindConfig, "Attribute mode is only allowed for guest CPU")
		}
		switch *x.Mode {
		case "custom", "host-model", "host-passthrough", "maximum":
		default:
			return nil, errf(KindConfig, "Invalid mode attribute '%s'", *x.Mode)
		}
		d.Mode = *x.Mode
	} else if d.Type == TypeGuest {
		d.Mode = "custom"
	}
	if x.Migratable != nil && d.Mode != "host-passthrough" && d.Mode != "maximum" {
		return nil, errf(KindConfig, "Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode")
	}
	if d.Type == TypeGuest {
		d.Match = "exact"
		if x.Match != nil {
			switch *x.Match {
			case "minimum", "exact", "strict":
				d.Match = *x.Match
			default:
				return nil, errf(KindXML, "Invalid value for attribute 'match' in element 'cpu': '%s'.", *x.Match)
			}
		}
	}
	if d.Type == TypeHost {
		if x.Arch == nil || strings.TrimSpace(*x.Arch) == "" {
			return nil, errf(KindXML, "Missing CPU architecture")
		}
		d.Arch = strings.TrimSpace(*x.Arch)
		if s := x.Signature; s != nil {
			d.HasSig = true
			f, err1 := strconv.ParseUint(s.Family, 10, 32)
			m, err2 := strconv.ParseUint(s.Model, 10, 32)
			st, err3 := strconv.ParseUint(s.Stepping, 10, 32)
			if err1 != nil || err2 != nil || err3 != nil {
				return nil, errf(KindXML, "Invalid CPU signature")
			}
			d.Family, d.Mdl, d.Stepping = uint32(f), uint32(m), uint32(st)
		}
	} else if x.Arch != nil {
		d.Arch = strings.TrimSpace(*x.Arch)
	}
	if x.Model != nil {
		d.Model = strings.TrimSpace(x.Model.Name)
	}
	if d.Model == "" && d.Type == TypeHost {
		return nil, errf(KindXML, "Missing CPU model name")
	}
	if d.Type == TypeGuest && d.Mode != "host-passthrough" && d.Mode != "maximum" {
		d.Fallback = "allow"
		if x.Model != nil && x.Model.Fallback != nil {
			switch *x.Model.Fallback {
			case "allow", "forbid":
				d.Fallback = *x.Model.Fallback
			default:
				return nil, errf(KindConfig, "Invalid fallback attribute")
			}
		}
	}
	if x.Vendor != nil {
		d.Vendor = strings.TrimSpace(*x.Vendor)
	}
	if d.Vendor != "" && d.Model == "" {
		return nil, errf(KindXML, "CPU vendor specified without CPU model")
	}
	if len(x.Features) > 0 && d.Model == "" && d.Mode == "custom" {
		return nil, errf(KindXML, "Non-empty feature list specified without CPU model")
	}
	seen := map[string]bool{}
	for _, f := range x.Features {
		pol := PolicyNone
		if d.Type == TypeGuest {
			pol = PolicyRequire
			if f.Policy != nil {
				switch *f.Policy {
				case PolicyForce, PolicyRequire, PolicyOptional, PolicyDisable, PolicyForbid:
					pol = *f.Policy
				default:
					return nil, errf(KindConfig, "Invalid CPU feature policy")
				}
			}
		}
		if f.Name == nil || *f.Name == "" {
			return nil, errf(KindXML, "Invalid CPU feature name")
		}
		if seen[*f.Name] {
			return nil, errf(KindXML, "CPU feature '%s' specified more than once", *f.Name)
		}
		seen[*f.Name] = true
		d.Features = append(d.Features, FeatureDef{Name: *f.Name, Policy: pol})
	}
	return d, nil
}

func xmlEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&apos;")
}

// FormatGuest writes a guest CPU as virCPUDefFormat does, each line
// prefixed with indent.
func (d *CPUDef) FormatGuest(indent string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s<cpu mode='%s'", indent, d.Mode)
	if d.Mode == "custom" && d.Match != "" {
		fmt.Fprintf(&b, " match='%s'", d.Match)
	}
	if d.Model == "" && d.Vendor == "" && len(d.Features) == 0 {
		b.WriteString("/>\n")
		return b.String()
	}
	b.WriteString(">\n")
	d.formatBody(&b, indent+"  ")
	fmt.Fprintf(&b, "%s</cpu>\n", indent)
	return b.String()
}

// formatBody writes model, vendor and features.
func (d *CPUDef) formatBody(b *strings.Builder, in string) {
	if d.Model != "" {
		if d.Fallback != "" {
			fmt.Fprintf(b, "%s<model fallback='%s'>%s</model>\n", in, d.Fallback, xmlEsc(d.Model))
		} else {
			fmt.Fprintf(b, "%s<model>%s</model>\n", in, xmlEsc(d.Model))
		}
	}
	if d.Vendor != "" {
		fmt.Fprintf(b, "%s<vendor>%s</vendor>\n", in, xmlEsc(d.Vendor))
	}
	for _, f := range d.Features {
		if f.Policy == PolicyNone {
			fmt.Fprintf(b, "%s<feature name='%s'/>\n", in, xmlEsc(f.Name))
		} else {
			fmt.Fprintf(b, "%s<feature policy='%s' name='%s'/>\n", in, f.Policy, xmlEsc(f.Name))
		}
	}
}

// FormatModeBody writes the model, vendor and features of a host-model
// CPU as domcapabilities shows them inside <mode name='host-model'>.
func (d *CPUDef) FormatModeBody(indent string) string {
	var b strings.Builder
	d.formatBody(&b, indent)
	return b.String()
}

// FormatHost writes a host CPU as the test files (and capabilities) show it.
func (d *CPUDef) FormatHost() string {
	var b strings.Builder
	b.WriteString("<cpu>\n")
	fmt.Fprintf(&b, "  <arch>%s</arch>\n", d.Arch)
	fmt.Fprintf(&b, "  <model>%s</model>\n", xmlEsc(d.Model))
	if d.Vendor != "" {
		fmt.Fprintf(&b, "  <vendor>%s</vendor>\n", xmlEsc(d.Vendor))
	}
	if d.HasSig {
		fmt.Fprintf(&b, "  <signature family='%d' model='%d' stepping='%d'/>\n", d.Family, d.Mdl, d.Stepping)
	}
	for _, f := range d.Features {
		fmt.Fprintf(&b, "  <feature name='%s'/>\n", xmlEsc(f.Name))
	}
	b.WriteString("</cpu>\n")
	return b.String()
}

func (d *CPUDef) hasFeature(name string) bool {
	for _, f := range d.Features {
		if f.Name == name {
			return true
		}
	}
	return false
}

// updateFeature sets name's policy, adding it when missing
// (virCPUDefUpdateFeature).
func (d *CPUDef) updateFeature(name, policy string) {
	for i := range d.Features {
		if d.Features[i].Name == name {
			d.Features[i].Policy = policy
			return
		}
	}
	d.Features = append(d.Features, FeatureDef{Name: name, Policy: policy})
}
