package command

import (
	"bytes"
	"encoding/json"

	"govirt/conf"
)

// obj is a JSON object that keeps its keys in insertion order. libvirt
// writes -device/-blockdev/-netdev properties in a fixed order, and
// keeping that order makes our command lines comparable with libvirt's.
type obj []kv

type kv struct {
	k string
	v any
}

// set appends key k; a nil obj is a valid empty object.
func (o obj) set(k string, v any) obj { return append(o, kv{k, v}) }

// get returns the value of k and whether it is present.
func (o obj) get(k string) (any, bool) {
	for _, p := range o {
		if p.k == k {
			return p.v, true
		}
	}
	return nil, false
}

func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshal(p.k)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := marshal(p.v)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping: QEMU reads the text
// verbatim and libvirt does not escape '<', '>' or '&' either.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// String is the object as one command-line argument.
func (o obj) String() string {
	b, err := marshal(o)
	if err != nil {
		// Only strings, numbers, booleans, nil and nested obj are
		// ever stored, all of which marshal.
		panic(err)
	}
	return string(b)
}

// child walks down the first children called names; nil when any is
// missing (conf.Element's methods do not accept a nil receiver).
func child(e *conf.Element, names ...string) *conf.Element {
	for _, n := range names {
		if e == nil {
			return nil
		}
		e = e.Child(n)
	}
	return e
}

// attr is e's attribute name, "" when e is nil or lacks it.
func attr(e *conf.Element, name string) string {
	if e == nil {
		return ""
	}
	v, _ := e.Attr(name)
	return v
}
