package xdr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

type inner struct {
	Name string
	UUID [16]byte
	ID   int32
}

type kitchen struct {
	I32     int32
	U32     uint32
	I64     int64
	U64     uint64
	B       bool
	F       float64
	S       string
	Opaque  []byte
	Fixed   [5]byte
	Strs    []string
	Ints    []int32
	Inner   inner
	Inners  []inner
	Opt     *string
	OptNil  *string
	OptDom  *inner
	UChar   uint8
	Short   int16
	Params  []TypedParam
	Arr     [2]uint32
	Limited string `xdr:"max=8"`
	Skip    int    `xdr:"-"`
	private int
}

func sample() kitchen {
	s := "optional"
	return kitchen{
		I32: -5, U32: 7, I64: math.MinInt64, U64: math.MaxUint64, B: true, F: 3.25,
		S: "héllo", Opaque: []byte{1, 2, 3}, Fixed: [5]byte{9, 8, 7, 6, 5},
		Strs: []string{"a", "bb", ""}, Ints: []int32{1, -1},
		Inner:  inner{"dom", [16]byte{1, 2, 3}, -1},
		Inners: []inner{{"x", [16]byte{}, 3}},
		Opt:    &s, OptDom: &inner{Name: "n"},
		UChar: 200, Short: -300,
		Params: []TypedParam{
			{"i", int32(-1)}, {"ui", uint32(2)}, {"l", int64(-3)}, {"ul", uint64(4)},
			{"d", 1.5}, {"b", true}, {"s", "str"},
		},
		Arr: [2]uint32{10, 20}, Limited: "12345678",
	}
}

func TestRoundTripAllKinds(t *testing.T) {
	in := sample()
	b, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("encoding not 4-aligned: %d", len(b))
	}
	var out kitchen
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("mismatch\n in=%+v\nout=%+v", in, out)
	}
	// Value (non-pointer) encoding must match pointer encoding.
	b2, err := Marshal(in)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("value encoding differs: %v", err)
	}
}

func TestWireLayout(t *testing.T) {
	type s struct {
		A uint8
		B string
		C *int32
		D [3]byte
	}
	b, err := Marshal(s{A: 1, B: "ab"})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 0, 0, 1, 0, 0, 0, 2, 'a', 'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x want %x", b, want)
	}
}

func TestOptionalAcceptsAnyNonZero(t *testing.T) {
	var v struct{ P *int32 }
	if err := Unmarshal([]byte{0, 0, 0, 7, 0, 0, 0, 5}, &v); err != nil {
		t.Fatal(err)
	}
	if v.P == nil || *v.P != 5 {
		t.Fatalf("got %v", v.P)
	}
}

func TestLimits(t *testing.T) {
	var v struct {
		S string `xdr:"max=4"`
	}
	v.S = "12345"
	if _, err := Marshal(v); !errors.Is(err, ErrTooLong) {
		t.Fatalf("encode over max: %v", err)
	}
	b := (&Encoder{}).appendString("12345")
	if err := Unmarshal(b, &v); !errors.Is(err, ErrTooLong) {
		t.Fatalf("decode over max: %v", err)
	}
	// A huge count with little data must fail before allocating.
	var arr struct{ A []inner }
	if err := Unmarshal([]byte{0x00, 0x0f, 0xff, 0xff, 0, 0, 0, 0}, &arr); !errors.Is(err, ErrShort) {
		t.Fatalf("huge count: %v", err)
	}
	// Untagged arrays are bounded by ArrayMax even when the data is there.
	if err := Unmarshal([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}, &arr); !errors.Is(err, ErrTooLong) {
		t.Fatalf("count over ArrayMax: %v", err)
	}
	over := make([]byte, 4+4*(ArrayMax+1))
	binary.BigEndian.PutUint32(over, ArrayMax+1)
	var ints struct{ A []int32 }
	if err := Unmarshal(over, &ints); !errors.Is(err, ErrTooLong) {
		t.Fatalf("ArrayMax+1 elements: %v", err)
	}
	ints.A = make([]int32, ArrayMax+1)
	if _, err := Marshal(ints); !errors.Is(err, ErrTooLong) {
		t.Fatalf("encoding ArrayMax+1 elements: %v", err)
	}
	var str string
	if err := Unmarshal([]byte{0x00, 0x3f, 0xff, 0xff}, &str); !errors.Is(err, ErrShort) {
		t.Fatalf("huge string: %v", err)
	}
	big := strings.Repeat("x", StringMax+1)
	if _, err := Marshal(big); !errors.Is(err, ErrTooLong) {
		t.Fatalf("string over REMOTE_STRING_MAX: %v", err)
	}
}

func (e *Encoder) appendString(s string) []byte { e.String(s); return e.buf }

func TestTruncatedEverywhere(t *testing.T) {
	in := sample()
	b, _ := Marshal(&in)
	for i := 0; i < len(b); i++ {
		var out kitchen
		if err := Unmarshal(b[:i], &out); err == nil {
			t.Fatalf("truncation at %d accepted", i)
		}
	}
}

func TestTypedParamBadType(t *testing.T) {
	e := &Encoder{}
	e.String("f")
	e.Int32(99)
	var p TypedParam
	if err := Unmarshal(e.buf, &p); !errors.Is(err, ErrBadValue) {
		t.Fatalf("got %v", err)
	}
	if _, err := Marshal(TypedParam{"x", 3}); !errors.Is(err, ErrBadValue) {
		t.Fatalf("int (not int32) accepted: %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	if _, err := Marshal(struct{ X int }{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v", err)
	}
}

type node struct {
	V    int32
	Next *node
}

func TestRecursive(t *testing.T) {
	in := &node{1, &node{2, nil}}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out node
	if err := Unmarshal(b, &out); err != nil || out.Next == nil || out.Next.V != 2 {
		t.Fatalf("%v %+v", err, out)
	}
}

func BenchmarkMarshal(b *testing.B) {
	in := sample()
	e := &Encoder{}
	b.ReportAllocs()
	for b.Loop() {
		e.Reset(e.buf[:0])
		if err := e.Encode(&in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	in := sample()
	buf, _ := Marshal(&in)
	b.ReportAllocs()
	for b.Loop() {
		var out kitchen
		if err := Unmarshal(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMaxOnOptionalString(t *testing.T) {
	s := "toolong"
	v := struct {
		P *string `xdr:"max=3"`
	}{&s}
	if _, err := Marshal(v); !errors.Is(err, ErrTooLong) {
		t.Fatalf("got %v", err)
	}
}
