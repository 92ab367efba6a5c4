package xdr

import (
	"errors"
	"reflect"
)

// Encode appends v. A top-level pointer is followed, not treated as XDR
// optional data, so callers can pass either &args or args; nil encodes
// nothing, which is how libvirt's void arguments look on the wire.
func (e *Encoder) Encode(v any) error {
	if v == nil {
		return nil
	}
	if m, ok := v.(Marshaler); ok {
		return m.MarshalXDR(e)
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	c, err := codecFor(rv.Type(), fieldOpts{})
	if err != nil {
		return err
	}
	return c.enc(e, rv)
}

// Marshal returns the XDR encoding of v.
func Marshal(v any) ([]byte, error) {
	e := Encoder{}
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

var errNotPointer = errors.New("xdr: Decode needs a non-nil pointer")

// Decode reads into v, which must be a non-nil pointer (or nil, to decode
// a void body). On error v may be partially filled.
func (d *Decoder) Decode(v any) error {
	if v == nil {
		return nil
	}
	if u, ok := v.(Unmarshaler); ok {
		return u.UnmarshalXDR(d)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errNotPointer
	}
	rv = rv.Elem()
	c, err := codecFor(rv.Type(), fieldOpts{})
	if err != nil {
		return err
	}
	return c.dec(d, rv)
}

// Unmarshal decodes b into v. Trailing bytes are tolerated, as libvirt's
// own payload decoding does not check for them.
func Unmarshal(b []byte, v any) error {
	d := Decoder{buf: b}
	return d.Decode(v)
}
