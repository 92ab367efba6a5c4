package xdr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Decoding errors. Everything a hostile peer can cause surfaces as one of
// these, never as a panic.
var (
	ErrShort    = errors.New("xdr: truncated data")
	ErrTooLong  = errors.New("xdr: length exceeds maximum")
	ErrBadValue = errors.New("xdr: invalid value")
)

// Limits libvirt applies; exported so callers share one definition.
const (
	// StringMax is REMOTE_STRING_MAX / VIR_NET_MESSAGE_STRING_MAX.
	StringMax = 4194304
	// ArrayMax bounds the element count of a slice the reflection codec
	// decodes without a max= tag. It is above every array bound of
	// libvirt's .x files (the generated codecs apply those exactly) and
	// far below what could exhaust memory.
	ArrayMax = 1 << 20
	// NoLimit as a max means "bounded only by the remaining input".
	NoLimit = math.MaxUint32
)

// Decoder reads XDR from a byte slice. It never allocates more than the
// remaining input could justify: every count is checked against the bytes
// left before any slice is made.
type Decoder struct {
	buf []byte
	off int
}

// NewDecoder reads from b; b is not copied, but no decoded value aliases it.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Offset is the number of bytes consumed.
func (d *Decoder) Offset() int { return d.off }

func (d *Decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.buf)-d.off {
		return nil, ErrShort
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *Decoder) Uint32() (uint32, error) {
	if len(d.buf)-d.off < 4 {
		return 0, ErrShort
	}
	v := binary.BigEndian.Uint32(d.buf[d.off:])
	d.off += 4
	return v, nil
}

func (d *Decoder) Int32() (int32, error) {
	v, err := d.Uint32()
	return int32(v), err
}

func (d *Decoder) Uint64() (uint64, error) {
	if len(d.buf)-d.off < 8 {
		return 0, ErrShort
	}
	v := binary.BigEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return v, nil
}

func (d *Decoder) Int64() (int64, error) {
	v, err := d.Uint64()
	return int64(v), err
}

func (d *Decoder) Float64() (float64, error) {
	v, err := d.Uint64()
	return math.Float64frombits(v), err
}

// Bool accepts any non-zero word as true, as glibc's xdr_bool does.
func (d *Decoder) Bool() (bool, error) {
	v, err := d.Uint32()
	return v != 0, err
}

// Optional reads an optional-data marker; like Bool, any non-zero is present.
func (d *Decoder) Optional() (bool, error) { return d.Bool() }

// count reads a length word and validates it against max and against the
// input left, assuming each element needs at least minSize bytes.
func (d *Decoder) count(max uint32, minSize int) (int, error) {
	n, err := d.Uint32()
	if err != nil {
		return 0, err
	}
	if n > max {
		return 0, fmt.Errorf("%w (%d > %d)", ErrTooLong, n, max)
	}
	if minSize < 1 {
		minSize = 1
	}
	if uint64(n)*uint64(minSize) > uint64(d.Remaining()) {
		return 0, ErrShort
	}
	return int(n), nil
}

func padded(n int) int { return (n + 3) &^ 3 }

// opaqueView returns the counted bytes without copying.
func (d *Decoder) opaqueView(max uint32) ([]byte, error) {
	n, err := d.count(max, 1)
	if err != nil {
		return nil, err
	}
	b, err := d.take(padded(n))
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

// String reads a counted string of at most max bytes.
func (d *Decoder) String(max uint32) (string, error) {
	b, err := d.opaqueView(max)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Opaque reads variable-length opaque data into a fresh slice.
func (d *Decoder) Opaque(max uint32) ([]byte, error) {
	b, err := d.opaqueView(max)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out, nil
}

// FixedOpaque fills dst exactly and skips padding.
func (d *Decoder) FixedOpaque(dst []byte) error {
	b, err := d.take(padded(len(dst)))
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

// Count reads an array length for hand-written decoders; see count.
func (d *Decoder) Count(max uint32, minElemSize int) (int, error) {
	return d.count(max, minElemSize)
}
