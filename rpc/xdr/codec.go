package xdr

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Marshaler lets a type encode itself, for XDR unions and other shapes a
// Go struct cannot describe.
type Marshaler interface {
	MarshalXDR(e *Encoder) error
}

// Unmarshaler is the decoding counterpart of Marshaler; implement it on the
// pointer type.
type Unmarshaler interface {
	UnmarshalXDR(d *Decoder) error
}

// ErrUnsupported reports a Go type the codec cannot map to XDR (for
// example int, whose width is platform-dependent, or maps).
var ErrUnsupported = errors.New("xdr: unsupported type")

// codec is the cached plan for one Go type. enc/dec are filled after the
// struct is published so recursive types can refer to themselves.
type codec struct {
	enc     func(e *Encoder, v reflect.Value) error
	dec     func(d *Decoder, v reflect.Value) error
	minSize int // smallest wire size, used to bound array counts
}

type fieldOpts struct {
	max uint32
}

var (
	cache   sync.Map // plainKey -> *codec
	buildMu sync.Mutex
)

// plainKey distinguishes a type's codec by the limit applied to it, since the
// same Go type can carry different max= tags in different fields.
type plainKey struct {
	t   reflect.Type
	max uint32
}

func codecFor(t reflect.Type, o fieldOpts) (*codec, error) {
	k := plainKey{t, o.max}
	if c, ok := cache.Load(k); ok {
		return c.(*codec), nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	building := map[plainKey]*codec{}
	c, err := build(t, o, building)
	if err != nil {
		return nil, err
	}
	for k, v := range building {
		cache.LoadOrStore(k, v)
	}
	return c, nil
}

var (
	marshalerType   = reflect.TypeFor[Marshaler]()
	unmarshalerType = reflect.TypeFor[Unmarshaler]()
	typedParamType  = reflect.TypeFor[TypedParam]()
)

func build(t reflect.Type, o fieldOpts, building map[plainKey]*codec) (*codec, error) {
	k := plainKey{t, o.max}
	if c, ok := cache.Load(k); ok {
		return c.(*codec), nil
	}
	if c, ok := building[k]; ok {
		return c, nil
	}
	c := &codec{}
	building[k] = c
	if err := fill(c, t, o, building); err != nil {
		delete(building, k)
		return nil, fmt.Errorf("%w: %v", err, t)
	}
	return c, nil
}

func fill(c *codec, t reflect.Type, o fieldOpts, building map[plainKey]*codec) error {
	if t == typedParamType {
		c.enc, c.dec, c.minSize = encTypedParamValue, decTypedParamValue, 12
		return nil
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface &&
		reflect.PointerTo(t).Implements(unmarshalerType) &&
		(t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType)) {
		fillCustom(c, t)
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		c.minSize = 4
		c.enc = func(e *Encoder, v reflect.Value) error { e.Bool(v.Bool()); return nil }
		c.dec = func(d *Decoder, v reflect.Value) error {
			b, err := d.Bool()
			v.SetBool(b)
			return err
		}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		c.minSize = 4
		c.enc = func(e *Encoder, v reflect.Value) error { e.Int32(int32(v.Int())); return nil }
		c.dec = func(d *Decoder, v reflect.Value) error {
			x, err := d.Int32()
			v.SetInt(int64(x))
			return err
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		c.minSize = 4
		c.enc = func(e *Encoder, v reflect.Value) error { e.Uint32(uint32(v.Uint())); return nil }
		c.dec = func(d *Decoder, v reflect.Value) error {
			x, err := d.Uint32()
			v.SetUint(uint64(x))
			return err
		}
	case reflect.Int64:
		c.minSize = 8
		c.enc = func(e *Encoder, v reflect.Value) error { e.Int64(v.Int()); return nil }
		c.dec = func(d *Decoder, v reflect.Value) error {
			x, err := d.Int64()
			v.SetInt(x)
			return err
		}
	case reflect.Uint64:
		c.minSize = 8
		c.enc = func(e *Encoder, v reflect.Value) error { e.Uint64(v.Uint()); return nil }
		c.dec = func(d *Decoder, v reflect.Value) error {
			x, err := d.Uint64()
			v.SetUint(x)
			return err
		}
	case reflect.Float64:
		c.minSize = 8
		c.enc = func(e *Encoder, v reflect.Value) error { e.Float64(v.Float()); return nil }
		c.dec = func(d *Decoder, v reflect.Value) error {
			x, err := d.Float64()
			v.SetFloat(x)
			return err
		}
	case reflect.String:
		fillString(c, o)
	case reflect.Slice:
		return fillSlice(c, t, o, building)
	case reflect.Array:
		return fillArray(c, t, building)
	case reflect.Pointer:
		return fillPointer(c, t, o, building)
	case reflect.Struct:
		return fillStruct(c, t, building)
	default:
		return ErrUnsupported
	}
	return nil
}

func limit(o fieldOpts, def uint32) uint32 {
	if o.max != 0 {
		return o.max
	}
	return def
}

func fillString(c *codec, o fieldOpts) {
	max := limit(o, StringMax)
	c.minSize = 4
	c.enc = func(e *Encoder, v reflect.Value) error {
		s := v.String()
		if uint64(len(s)) > uint64(max) {
			return ErrTooLong
		}
		e.String(s)
		return nil
	}
	c.dec = func(d *Decoder, v reflect.Value) error {
		s, err := d.String(max)
		v.SetString(s)
		return err
	}
}

// fillSlice bounds every slice: by its max= tag, else by ArrayMax for
// arrays (opaque data is bounded by the input only, which it never exceeds
// in memory), and always by the bytes left in the input.
func fillSlice(c *codec, t reflect.Type, o fieldOpts, building map[plainKey]*codec) error {
	max := limit(o, ArrayMax)
	c.minSize = 4
	if t.Elem().Kind() == reflect.Uint8 {
		max = limit(o, NoLimit)
		c.enc = func(e *Encoder, v reflect.Value) error {
			b := v.Bytes()
			if uint64(len(b)) > uint64(max) {
				return ErrTooLong
			}
			e.Opaque(b)
			return nil
		}
		c.dec = func(d *Decoder, v reflect.Value) error {
			b, err := d.opaqueView(max)
			if err != nil {
				return err
			}
			nb := reflect.MakeSlice(t, len(b), len(b))
			copy(nb.Bytes(), b)
			v.Set(nb)
			return nil
		}
		return nil
	}
	ec, err := build(t.Elem(), fieldOpts{}, building)
	if err != nil {
		return err
	}
	c.enc = func(e *Encoder, v reflect.Value) error {
		n := v.Len()
		if uint64(n) > uint64(max) {
			return ErrTooLong
		}
		e.Uint32(uint32(n))
		for i := 0; i < n; i++ {
			if err := ec.enc(e, v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *Decoder, v reflect.Value) error {
		n, err := d.count(max, ec.minSize)
		if err != nil {
			return err
		}
		s := reflect.MakeSlice(t, n, n)
		for i := 0; i < n; i++ {
			if err := ec.dec(d, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	return nil
}

func fillArray(c *codec, t reflect.Type, building map[plainKey]*codec) error {
	n := t.Len()
	if t.Elem().Kind() == reflect.Uint8 {
		c.minSize = padded(n)
		c.enc = func(e *Encoder, v reflect.Value) error {
			if v.CanAddr() {
				e.FixedOpaque(v.Bytes())
				return nil
			}
			for i := 0; i < n; i++ {
				e.buf = append(e.buf, byte(v.Index(i).Uint()))
			}
			e.pad(n)
			return nil
		}
		c.dec = func(d *Decoder, v reflect.Value) error {
			b, err := d.take(padded(n))
			if err != nil {
				return err
			}
			copy(v.Bytes(), b[:n])
			return nil
		}
		return nil
	}
	ec, err := build(t.Elem(), fieldOpts{}, building)
	if err != nil {
		return err
	}
	c.minSize = n * ec.minSize
	c.enc = func(e *Encoder, v reflect.Value) error {
		for i := 0; i < n; i++ {
			if err := ec.enc(e, v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *Decoder, v reflect.Value) error {
		for i := 0; i < n; i++ {
			if err := ec.dec(d, v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

// fillPointer passes the field's limit through, so `xdr:"max=N"` on a
// *string (remote_string) bounds the string itself.
func fillPointer(c *codec, t reflect.Type, o fieldOpts, building map[plainKey]*codec) error {
	ec, err := build(t.Elem(), o, building)
	if err != nil {
		return err
	}
	c.minSize = 4
	c.enc = func(e *Encoder, v reflect.Value) error {
		if v.IsNil() {
			e.Optional(false)
			return nil
		}
		e.Optional(true)
		return ec.enc(e, v.Elem())
	}
	c.dec = func(d *Decoder, v reflect.Value) error {
		present, err := d.Optional()
		if err != nil {
			return err
		}
		if !present {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return ec.dec(d, v.Elem())
	}
	return nil
}

type fieldPlan struct {
	index int
	c     *codec
}

func fillStruct(c *codec, t reflect.Type, building map[plainKey]*codec) error {
	var plan []fieldPlan
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("xdr")
		if tag == "-" || !f.IsExported() {
			continue
		}
		o, err := parseTag(tag)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		fc, err := build(f.Type, o, building)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		plan = append(plan, fieldPlan{i, fc})
		c.minSize += fc.minSize
	}
	c.enc = func(e *Encoder, v reflect.Value) error {
		for _, p := range plan {
			if err := p.c.enc(e, v.Field(p.index)); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *Decoder, v reflect.Value) error {
		for _, p := range plan {
			if err := p.c.dec(d, v.Field(p.index)); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

func parseTag(tag string) (fieldOpts, error) {
	var o fieldOpts
	for _, part := range strings.Split(tag, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if v, ok := strings.CutPrefix(part, "max="); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return o, fmt.Errorf("xdr: bad max in tag %q", tag)
			}
			o.max = uint32(n)
			continue
		}
		return o, fmt.Errorf("xdr: unknown tag option %q", part)
	}
	return o, nil
}

func fillCustom(c *codec, t reflect.Type) {
	// A custom type's wire size is unknown; 4 is the smallest any XDR item
	// can be, which keeps array bounds checks sound.
	c.minSize = 4
	c.enc = func(e *Encoder, v reflect.Value) error {
		if v.CanAddr() {
			if m, ok := v.Addr().Interface().(Marshaler); ok {
				return m.MarshalXDR(e)
			}
		}
		if m, ok := v.Interface().(Marshaler); ok {
			return m.MarshalXDR(e)
		}
		p := reflect.New(t)
		p.Elem().Set(v)
		return p.Interface().(Marshaler).MarshalXDR(e)
	}
	c.dec = func(d *Decoder, v reflect.Value) error {
		return v.Addr().Interface().(Unmarshaler).UnmarshalXDR(d)
	}
}
