package cpux86

// Key names one CPUID leaf/subleaf or one MSR.
type Key struct {
	MSR       bool
	Leaf, Sub uint32
}

// Regs holds eax, ebx, ecx, edx of a CPUID leaf (an MSR uses eax and edx).
type Regs [4]uint32

// Data is a set of CPUID/MSR bits, libvirt's virCPUx86Data.
type Data map[Key]Regs

func (d Data) add(k Key, r Regs) {
	o := d[k]
	for i := range o {
		o[i] |= r[i]
	}
	d[k] = o
}

// Copy returns an independent copy.
func (d Data) Copy() Data {
	c := make(Data, len(d))
	for k, v := range d {
		c[k] = v
	}
	return c
}

// Add ors other into d.
func (d Data) Add(other Data) {
	for k, v := range other {
		d.add(k, v)
	}
}

// Subtract clears other's bits from d.
func (d Data) Subtract(other Data) {
	for k, v := range other {
		if o, ok := d[k]; ok {
			for i := range o {
				o[i] &^= v[i]
			}
			d[k] = o
		}
	}
}

// Intersect keeps only the bits set in both.
func (d Data) Intersect(other Data) {
	for k, v := range d {
		if o, ok := other[k]; ok {
			for i := range v {
				v[i] &= o[i]
			}
			d[k] = v
		} else {
			delete(d, k)
		}
	}
}

// Empty reports whether no bit is set.
func (d Data) Empty() bool {
	for _, v := range d {
		if v != (Regs{}) {
			return false
		}
	}
	return true
}

// IsSubset reports whether every bit of sub is set in d.
func (d Data) IsSubset(sub Data) bool {
	for k, v := range sub {
		if v == (Regs{}) {
			continue
		}
		o, ok := d[k]
		if !ok {
			return false
		}
		for i := range v {
			if o[i]&v[i] != v[i] {
				return false
			}
		}
	}
	return true
}

func matchMasked(item, mask Regs) bool {
	for i := range item {
		if item[i]&mask[i] != mask[i] {
			return false
		}
	}
	return true
}

const signatureMask = 0x0fff3fff

func (d Data) signature() uint32 {
	return d[Key{Leaf: 1}][0] & signatureMask
}

// SignatureFromCPUID splits CPUID leaf 1 eax into family, model, stepping.
func SignatureFromCPUID(sig uint32) (family, model, stepping uint32) {
	return ((sig >> 20) & 0xff) + ((sig >> 8) & 0xf), ((sig >> 12) & 0xf0) + ((sig >> 4) & 0xf), sig & 0xf
}

// MakeSignature builds CPUID leaf 1 eax from family, model, stepping.
func MakeSignature(family, model, stepping uint32) uint32 {
	var extFam uint32
	if family > 0xf {
		extFam = family - 0xf
		family = 0xf
	}
	return extFam<<20 | (model>>4)<<16 | family<<8 | (model&0xf)<<4 | stepping&0xf
}

func sigsMatch(sigs []Signature, sig uint32) bool {
	f, m, s := SignatureFromCPUID(sig)
	for _, x := range sigs {
		if x.Family == f && x.Model == m && (x.Steppings == nil || x.Steppings[s]) {
			return true
		}
	}
	return false
}
