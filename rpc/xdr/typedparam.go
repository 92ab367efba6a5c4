package xdr

import (
	"fmt"
	"reflect"
)

// Typed parameter discriminants (virTypedParameterType).
const (
	ParamInt     = 1
	ParamUint    = 2
	ParamLLong   = 3
	ParamULLong  = 4
	ParamDouble  = 5
	ParamBoolean = 6
	ParamString  = 7
)

// FieldMax is VIR_TYPED_PARAM_FIELD_LENGTH: libvirt's field names are
// fixed 80-byte buffers, so longer names never come from a real peer.
const FieldMax = 80

// TypedParam is remote_typed_param. Value holds exactly one of int32,
// uint32, int64, uint64, float64, bool or string; the Go type selects the
// wire discriminant so callers never handle the union tag themselves.
type TypedParam struct {
	Field string
	Value any
}

// ParamType returns the wire discriminant for v, or 0 when v's Go type is
// not a typed-parameter value.
func ParamType(v any) int32 {
	switch v.(type) {
	case int32:
		return ParamInt
	case uint32:
		return ParamUint
	case int64:
		return ParamLLong
	case uint64:
		return ParamULLong
	case float64:
		return ParamDouble
	case bool:
		return ParamBoolean
	case string:
		return ParamString
	}
	return 0
}

// MarshalXDR writes the union: field, discriminant, arm.
func (p TypedParam) MarshalXDR(e *Encoder) error {
	if len(p.Field) > StringMax {
		return ErrTooLong
	}
	e.String(p.Field)
	return encodeParamValue(e, p.Value)
}

func encodeParamValue(e *Encoder, val any) error {
	switch x := val.(type) {
	case int32:
		e.Int32(ParamInt)
		e.Int32(x)
	case uint32:
		e.Int32(ParamUint)
		e.Uint32(x)
	case int64:
		e.Int32(ParamLLong)
		e.Int64(x)
	case uint64:
		e.Int32(ParamULLong)
		e.Uint64(x)
	case float64:
		e.Int32(ParamDouble)
		e.Float64(x)
	case bool:
		e.Int32(ParamBoolean)
		e.Bool(x)
	case string:
		if len(x) > StringMax {
			return ErrTooLong
		}
		e.Int32(ParamString)
		e.String(x)
	default:
		return fmt.Errorf("%w: typed parameter value %T", ErrBadValue, val)
	}
	return nil
}

// UnmarshalXDR reads the union; an unknown discriminant is an error, as in
// libvirt's generated xdr_remote_typed_param_value.
func (p *TypedParam) UnmarshalXDR(d *Decoder) error {
	f, err := d.String(StringMax)
	if err != nil {
		return err
	}
	p.Field = f
	p.Value, err = decodeParamValue(d)
	return err
}

func decodeParamValue(d *Decoder) (any, error) {
	typ, err := d.Int32()
	if err != nil {
		return nil, err
	}
	switch typ {
	case ParamInt:
		return d.Int32()
	case ParamUint:
		return d.Uint32()
	case ParamLLong:
		return d.Int64()
	case ParamULLong:
		return d.Uint64()
	case ParamDouble:
		return d.Float64()
	case ParamBoolean:
		// libvirt carries booleans as int; any non-zero is true.
		return d.Bool()
	case ParamString:
		return d.String(StringMax)
	}
	return nil, fmt.Errorf("%w: typed parameter type %d", ErrBadValue, typ)
}

// The reflection plan uses these directly so encoding a TypedParam inside a
// struct does not box it into an interface on every call.
func encTypedParamValue(e *Encoder, v reflect.Value) error {
	f := v.Field(0).String()
	if len(f) > StringMax {
		return ErrTooLong
	}
	e.String(f)
	return encodeParamValue(e, v.Field(1).Interface())
}

func decTypedParamValue(d *Decoder, v reflect.Value) error {
	f, err := d.String(StringMax)
	if err != nil {
		return err
	}
	v.Field(0).SetString(f)
	val, err := decodeParamValue(d)
	if err != nil {
		return err
	}
	v.Field(1).Set(reflect.ValueOf(val))
	return nil
}
