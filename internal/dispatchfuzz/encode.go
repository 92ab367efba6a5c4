package dispatchfuzz

import (
	"reflect"

	"govirt/rpc/xdr"
)

// Encode writes v as XDR by its Go shape alone, ignoring the protocol's
// bounds that the generated encoders enforce: a client is free to send a
// MAX+1 array, and the server must refuse it. A pointer is encoded as
// what it points to (the arguments value), not as an optional.
func Encode(v any) []byte {
	e := xdr.NewEncoder(nil)
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	encode(e, rv)
	return e.Bytes()
}

func encode(e *xdr.Encoder, v reflect.Value) {
	if v.Type() == typedParamType {
		p := v.Interface().(xdr.TypedParam)
		e.String(p.Field)
		switch x := p.Value.(type) {
		case int32:
			e.Int32(xdr.ParamInt)
			e.Int32(x)
		case uint32:
			e.Int32(xdr.ParamUint)
			e.Uint32(x)
		case int64:
			e.Int32(xdr.ParamLLong)
			e.Int64(x)
		case uint64:
			e.Int32(xdr.ParamULLong)
			e.Uint64(x)
		case float64:
			e.Int32(xdr.ParamDouble)
			e.Float64(x)
		case bool:
			e.Int32(xdr.ParamBoolean)
			e.Bool(x)
		case string:
			e.Int32(xdr.ParamString)
			e.String(x)
		default:
			e.Int32(0)
		}
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		e.Bool(v.Bool())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int:
		e.Int32(int32(v.Int()))
	case reflect.Int64:
		e.Int64(v.Int())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint:
		e.Uint32(uint32(v.Uint()))
	case reflect.Uint64:
		e.Uint64(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.Float64(v.Float())
	case reflect.String:
		e.String(v.String())
	case reflect.Pointer:
		e.Optional(!v.IsNil())
		if !v.IsNil() {
			encode(e, v.Elem())
		}
	case reflect.Interface:
		if !v.IsNil() {
			encode(e, v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				encode(e, v.Field(i))
			}
		}
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			e.FixedOpaque(b)
			return
		}
		for i := 0; i < v.Len(); i++ {
			encode(e, v.Index(i))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			e.Opaque(v.Bytes())
			return
		}
		e.Uint32(uint32(v.Len()))
		for i := 0; i < v.Len(); i++ {
			encode(e, v.Index(i))
		}
	}
}
