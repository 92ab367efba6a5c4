// Package xdr implements the subset of RFC 4506 XDR that libvirt's RPC
// protocol uses, plus a reflection-driven struct codec whose per-type plans
// are cached so that the daemon's hot path does no repeated type analysis.
package xdr

import (
	"encoding/binary"
	"math"
)

// Encoder appends XDR to a byte slice. It never fails on primitives: size
// limits are a protocol decision and are enforced by the struct codec, so that
// hand-written encoders stay cheap.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an Encoder appending to buf (which may be nil or carry
// a prefix such as a reserved frame header).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns everything written so far, including any initial prefix.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is the number of bytes held.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset replaces the buffer, letting callers recycle storage.
func (e *Encoder) Reset(buf []byte) { e.buf = buf }

func (e *Encoder) Uint32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *Encoder) Int32(v int32)   { e.Uint32(uint32(v)) }
func (e *Encoder) Uint64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *Encoder) Int64(v int64)   { e.Uint64(uint64(v)) }
func (e *Encoder) Float64(v float64) {
	e.Uint64(math.Float64bits(v))
}

// Bool writes the canonical 0/1 form.
func (e *Encoder) Bool(v bool) {
	if v {
		e.Uint32(1)
	} else {
		e.Uint32(0)
	}
}

// Optional writes the presence marker that precedes an XDR optional-data
// value (libvirt's pointer types).
func (e *Encoder) Optional(present bool) { e.Bool(present) }

// String writes a counted string with padding.
func (e *Encoder) String(s string) {
	e.Uint32(uint32(len(s)))
	e.buf = append(e.buf, s...)
	e.pad(len(s))
}

// Opaque writes variable-length opaque data with padding.
func (e *Encoder) Opaque(b []byte) {
	e.Uint32(uint32(len(b)))
	e.buf = append(e.buf, b...)
	e.pad(len(b))
}

// FixedOpaque writes fixed-length opaque data: no count, only padding.
func (e *Encoder) FixedOpaque(b []byte) {
	e.buf = append(e.buf, b...)
	e.pad(len(b))
}

// Raw appends bytes verbatim; stream payloads are not XDR-framed.
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

var zeros [4]byte

func (e *Encoder) pad(n int) {
	if r := n & 3; r != 0 {
		e.buf = append(e.buf, zeros[:4-r]...)
	}
}
