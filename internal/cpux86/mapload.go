// Package cpux86 implements libvirt's x86 CPU model logic: the cpu_map
// table (models, features with their CPUID/MSR bits, vendors), decoding
// CPUID data into the closest model plus features, comparing a CPU with the
// host CPU and computing a baseline of several CPUs, with libvirt 9.0's
// results.
package cpux86

import (
	"embed"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

//go:embed cpu_map/*.xml
var mapFS embed.FS

// Vendor is a CPU vendor with the CPUID leaf 0 bits of its string.
type Vendor struct {
	Name string
	Data Data
}

// Feature is one named CPU feature.
type Feature struct {
	Name       string
	Data       Data
	Migratable bool
}

// Signature is a family/model pair with optional stepping set.
type Signature struct {
	Family, Model uint32
	Steppings     map[uint32]bool // nil: any
}

// Model is a named CPU model.
type Model struct {
	Name                    string
	DecodeHost, DecodeGuest bool
	Vendor                  *Vendor
	Signatures              []Signature
	Data                    Data
	Removed                 []string
}

// Map is libvirt's x86 cpu_map.
type Map struct {
	Vendors  []*Vendor
	Features []*Feature
	Models   []*Model
	byName   map[string]*Feature
	aliases  map[string]*Feature // names and aliases, for Linux's flags
	models   map[string]*Model
}

var (
	loadOnce sync.Once
	theMap   *Map
	loadErr  error
)

// Get returns the embedded map, loaded once.
func Get() (*Map, error) {
	loadOnce.Do(func() { theMap, loadErr = load() })
	return theMap, loadErr
}

type xIndex struct {
	Arches []struct {
		Name     string `xml:"name,attr"`
		Includes []struct {
			File string `xml:"filename,attr"`
		} `xml:"include"`
	} `xml:"arch"`
}

type xCPUID struct {
	EaxIn string `xml:"eax_in,attr"`
	EcxIn string `xml:"ecx_in,attr"`
	Eax   string `xml:"eax,attr"`
	Ebx   string `xml:"ebx,attr"`
	Ecx   string `xml:"ecx,attr"`
	Edx   string `xml:"edx,attr"`
}

type xMSR struct {
	Index string `xml:"index,attr"`
	Eax   string `xml:"eax,attr"`
	Edx   string `xml:"edx,attr"`
}

type xFile struct {
	Vendors []struct {
		Name   string `xml:"name,attr"`
		String string `xml:"string,attr"`
	} `xml:"vendor"`
	Features []struct {
		Name       string   `xml:"name,attr"`
		Migratable string   `xml:"migratable,attr"`
		CPUID      []xCPUID `xml:"cpuid"`
		MSR        []xMSR   `xml:"msr"`
		Aliases    []struct {
			Name string `xml:"name,attr"`
		} `xml:"alias"`
	} `xml:"feature"`
	Models []struct {
		Name   string `xml:"name,attr"`
		Decode *struct {
			Host  string `xml:"host,attr"`
			Guest string `xml:"guest,attr"`
		} `xml:"decode"`
		Parent *struct {
			Name string `xml:"name,attr"`
		} `xml:"model"`
		Signatures []struct {
			Family   string `xml:"family,attr"`
			Model    string `xml:"model,attr"`
			Stepping string `xml:"stepping,attr"`
		} `xml:"signature"`
		Vendor *struct {
			Name string `xml:"name,attr"`
		} `xml:"vendor"`
		Features []struct {
			Name    string `xml:"name,attr"`
			Removed string `xml:"removed,attr"`
		} `xml:"feature"`
	} `xml:"model"`
}

func num(s string) uint32 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		panic(fmt.Sprintf("cpu_map: bad number %q", s))
	}
	return uint32(v)
}

func load() (m *Map, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	raw, err := mapFS.ReadFile("cpu_map/index.xml")
	if err != nil {
		return nil, err
	}
	var idx xIndex
	if err := xml.Unmarshal(raw, &idx); err != nil {
		return nil, err
	}
	m = &Map{byName: map[string]*Feature{}, aliases: map[string]*Feature{}, models: map[string]*Model{}}
	for _, a := range idx.Arches {
		if a.Name != "x86" {
			continue
		}
		for _, inc := range a.Includes {
			b, err := mapFS.ReadFile("cpu_map/" + inc.File)
			if err != nil {
				return nil, err
			}
			var f xFile
			if err := xml.Unmarshal(b, &f); err != nil {
				return nil, fmt.Errorf("%s: %v", inc.File, err)
			}
			if err := m.add(&f); err != nil {
				return nil, fmt.Errorf("%s: %v", inc.File, err)
			}
		}
	}
	return m, nil
}

func (m *Map) add(f *xFile) error {
	for _, v := range f.Vendors {
		if len(v.String) != 12 {
			return fmt.Errorf("bad vendor string %q", v.String)
		}
		m.Vendors = append(m.Vendors, &Vendor{Name: v.Name, Data: vendorData(v.String)})
	}
	for _, xf := range f.Features {
		ft := &Feature{Name: xf.Name, Data: Data{}, Migratable: xf.Migratable != "no"}
		for _, c := range xf.CPUID {
			ft.Data.add(Key{Leaf: num(c.EaxIn), Sub: num(c.EcxIn)}, Regs{num(c.Eax), num(c.Ebx), num(c.Ecx), num(c.Edx)})
		}
		for _, r := range xf.MSR {
			ft.Data.add(Key{MSR: true, Leaf: num(r.Index)}, Regs{num(r.Eax), 0, 0, num(r.Edx)})
		}
		m.Features = append(m.Features, ft)
		m.byName[ft.Name] = ft
		m.aliases[ft.Name] = ft
		for _, al := range xf.Aliases {
			if _, dup := m.aliases[al.Name]; !dup {
				m.aliases[al.Name] = ft
			}
		}
	}
	for _, xm := range f.Models {
		md := &Model{Name: xm.Name, DecodeHost: true, DecodeGuest: true, Data: Data{}}
		if xm.Decode != nil {
			md.DecodeHost = xm.Decode.Host == "on"
			md.DecodeGuest = xm.Decode.Guest == "on"
		}
		if xm.Parent != nil {
			p := m.models[xm.Parent.Name]
			if p == nil {
				return fmt.Errorf("ancestor %s of %s not found", xm.Parent.Name, xm.Name)
			}
			md.Vendor = p.Vendor
			md.Signatures = append([]Signature(nil), p.Signatures...)
			md.Data = p.Data.Copy()
		}
		if len(xm.Signatures) > 0 {
			md.Signatures = nil
			for _, s := range xm.Signatures {
				sig := Signature{Family: num(s.Family), Model: num(s.Model)}
				if s.Stepping != "" {
					sig.Steppings = parseRanges(s.Stepping)
				}
				md.Signatures = append(md.Signatures, sig)
			}
		}
		if xm.Vendor != nil {
			md.Vendor = m.vendor(xm.Vendor.Name)
			if md.Vendor == nil {
				return fmt.Errorf("unknown vendor %s", xm.Vendor.Name)
			}
		}
		for _, xf := range xm.Features {
			ft := m.byName[xf.Name]
			if ft == nil {
				return fmt.Errorf("feature %s of %s not found", xf.Name, xm.Name)
			}
			if xf.Removed == "yes" {
				md.Removed = append(md.Removed, xf.Name)
				continue
			}
			md.Data.Add(ft.Data)
		}
		m.Models = append(m.Models, md)
		m.models[md.Name] = md
	}
	return nil
}

func parseRanges(s string) map[uint32]bool {
	out := map[uint32]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo
		}
		for v := num(lo); v <= num(hi); v++ {
			out[v] = true
		}
	}
	return out
}

func vendorData(s string) Data {
	le := func(b string) uint32 {
		return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	}
	d := Data{}
	d.add(Key{}, Regs{0, le(s[0:4]), le(s[8:12]), le(s[4:8])})
	return d
}

func (m *Map) vendor(name string) *Vendor {
	for _, v := range m.Vendors {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Feature finds a feature by its name; like libvirt 9.0, the aliases in
// the map are not names a CPU definition may use.
func (m *Map) Feature(name string) *Feature { return m.byName[name] }

// featureOrAlias also accepts the map's QEMU and Linux aliases.
func (m *Map) featureOrAlias(name string) *Feature { return m.aliases[name] }

// Model finds a model by name.
func (m *Map) Model(name string) *Model { return m.models[name] }

// ModelNames lists the models in cpu_map order (virsh cpu-models).
func (m *Map) ModelNames() []string {
	out := make([]string, len(m.Models))
	for i, md := range m.Models {
		out[i] = md.Name
	}
	return out
}

func (m *Map) migratable(name string) bool {
	f := m.byName[name]
	return f == nil || f.Migratable
}
