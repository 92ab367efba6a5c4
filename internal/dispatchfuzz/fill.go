// Package dispatchfuzz helps fuzz tests drive a daemon's dispatcher with
// structured calls: Filler turns fuzz bytes into a value of a procedure's
// generated argument type, Encode writes it as XDR without the protocol's
// bounds (so MAX+1 arrays reach the server's decoder), and Client makes
// one call over a connection with a deadline. It is test support only.
package dispatchfuzz

import (
	"encoding/binary"
	"math"
	"reflect"

	"govirt/rpc/xdr"
)

// Filler fills values from fuzz bytes, deterministically: the same bytes
// give the same value, and exhausted input reads as zeros, so an empty
// input gives zero numbers, absent optionals, empty arrays and Words[0]
// for every string.
type Filler struct {
	data []byte
	// Bounds are the protocol's MAX values; lengths and numbers pick
	// MAX-1, MAX and MAX+1 of them.
	Bounds []int64
	// Words are strings worth trying: object names that exist, names that
	// must be refused, XML documents.
	Words []string
	// Fixed are values for fixed-length byte arrays (UUIDs of objects that
	// exist), used when their length matches.
	Fixed [][]byte
	// Budget bounds the bytes of strings and array elements of one value,
	// so that a MAX+1 string costs once per value, not once per field.
	Budget int
}

// NewFiller reads data; bounds and words as in Filler.
func NewFiller(data []byte, bounds []int64, words []string) *Filler {
	if len(words) == 0 {
		words = []string{""}
	}
	return &Filler{data: data, Bounds: bounds, Words: words, Budget: 8 << 20}
}

var typedParamType = reflect.TypeOf(xdr.TypedParam{})

// Fill sets *v (v a pointer) from the fuzz bytes.
func (f *Filler) Fill(v any) {
	f.fill(reflect.ValueOf(v).Elem(), 0)
}

func (f *Filler) byte() byte {
	if len(f.data) == 0 {
		return 0
	}
	b := f.data[0]
	f.data = f.data[1:]
	return b
}

func (f *Filler) bytes(n int) []byte {
	b := make([]byte, n)
	k := copy(b, f.data)
	f.data = f.data[k:]
	return b
}

// special are the numbers handlers most often get wrong.
var special = []int64{0, 1, -1, 2, math.MaxInt32, math.MinInt32, math.MaxUint32, 1 << 28, 1 << 31,
	math.MaxInt64, math.MinInt64, 1 << 32, math.MaxInt32 + 1, -2, 255, 256, 65535, 65536}

// number picks small values most of the time, then specials, bounds and
// raw words.
func (f *Filler) number() int64 {
	sel := f.byte()
	switch sel % 8 {
	case 4:
		return special[int(f.byte())%len(special)]
	case 5:
		if len(f.Bounds) > 0 {
			return f.bound()
		}
		return int64(f.byte())
	case 6:
		return int64(int32(binary.BigEndian.Uint32(f.bytes(4))))
	case 7:
		return int64(binary.BigEndian.Uint64(f.bytes(8)))
	}
	return int64(int8(f.byte()))
}

// bound is one of MAX-1, MAX, MAX+1 of a protocol bound.
func (f *Filler) bound() int64 {
	b := f.byte()
	return f.Bounds[int(b/3)%len(f.Bounds)] + int64(b%3) - 1
}

// length picks an array or string length: mostly 0-4, sometimes up to
// 255, sometimes a protocol bound when the budget allows.
func (f *Filler) length(elem int) int {
	sel := f.byte()
	n := int(sel % 5)
	switch {
	case sel >= 240 && len(f.Bounds) > 0:
		if b := f.bound(); b >= 0 && b*int64(elem) <= int64(f.Budget) {
			n = int(b)
		}
	case sel >= 200:
		n = int(f.byte())
	}
	if n*elem > f.Budget {
		n = 0
	}
	f.Budget -= n * elem
	return n
}

func (f *Filler) str() string {
	sel := f.byte()
	if sel < 128 {
		return f.Words[int(sel)%len(f.Words)]
	}
	if sel >= 250 {
		// A dictionary word with fuzz bytes after it: "test/../x", "test\n".
		w := f.Words[int(f.byte())%len(f.Words)]
		return w + string(f.bytes(f.length(1)))
	}
	return string(f.bytes(f.length(1)))
}

func (f *Filler) fill(v reflect.Value, depth int) {
	if depth > 16 {
		return
	}
	if v.Type() == typedParamType {
		v.Set(reflect.ValueOf(f.typedParam()))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(f.byte()&1 == 1)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		v.SetInt(f.number())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		v.SetUint(uint64(f.number()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.number()))
	case reflect.String:
		v.SetString(f.str())
	case reflect.Pointer:
		if f.byte()&1 == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i), depth+1)
			}
		}
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if sel := f.byte(); sel < 128 && len(f.Fixed) > 0 {
				if b := f.Fixed[int(sel)%len(f.Fixed)]; len(b) == v.Len() {
					reflect.Copy(v, reflect.ValueOf(b))
					return
				}
			}
			reflect.Copy(v, reflect.ValueOf(f.bytes(v.Len())))
			return
		}
		for i := 0; i < v.Len(); i++ {
			f.fill(v.Index(i), depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(f.bytes(f.length(1)))
			return
		}
		n := f.length(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			f.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	}
}

func (f *Filler) typedParam() xdr.TypedParam {
	p := xdr.TypedParam{Field: f.str()}
	switch f.byte() % 7 {
	case 0:
		p.Value = int32(f.number())
	case 1:
		p.Value = uint32(f.number())
	case 2:
		p.Value = f.number()
	case 3:
		p.Value = uint64(f.number())
	case 4:
		p.Value = float64(f.number())
	case 5:
		p.Value = f.byte()&1 == 1
	default:
		p.Value = f.str()
	}
	return p
}
