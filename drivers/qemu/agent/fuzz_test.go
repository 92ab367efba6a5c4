package agent

import (
	"bytes"
	"testing"
)

// FuzzSplitter: any byte stream splits into lines without newlines or
// delimiters, never panics, and feeding it in two pieces gives the same
// lines as at once.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("{\"return\": 1}\n\xff{\"return\": 2}\n"), 3)
	f.Add([]byte("abc\xffdef\nghi"), 5)
	f.Add([]byte("\n\n\xff\xff\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		var whole, parts [][]byte
		var s1, s2 splitter
		if err := s1.feed(data, func(l []byte) { whole = append(whole, append([]byte(nil), l...)) }); err != nil {
			return
		}
		if cut < 0 {
			cut = -cut
		}
		if len(data) > 0 {
			cut %= len(data) + 1
		} else {
			cut = 0
		}
		add := func(l []byte) { parts = append(parts, append([]byte(nil), l...)) }
		if err := s2.feed(data[:cut], add); err != nil {
			t.Fatal(err)
		}
		if err := s2.feed(data[cut:], add); err != nil {
			t.Fatal(err)
		}
		if len(whole) != len(parts) {
			t.Fatalf("%d lines at once, %d in parts", len(whole), len(parts))
		}
		for i := range whole {
			if !bytes.Equal(whole[i], parts[i]) {
				t.Fatalf("line %d: %q vs %q", i, whole[i], parts[i])
			}
			if indexSep(whole[i]) >= 0 {
				t.Fatalf("line %q holds a separator", whole[i])
			}
		}
	})
}

// FuzzParseLine: any line classifies without panicking, and a sync id
// is only read from a well-formed reply.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"return": 123}`, `{"return": {"a": 1}}`, `{"error": {"class": "CommandNotFound", "desc": "x"}}`,
		`{"error": "x"}`, `{"event": "E"}`, `{"QMP": {}}`, `[1]`, `garbage`, `{"return": -1}`,
		`{"return": 1.5}`, `{"return": 18446744073709551616}`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m := parseLine(line)
		if id, ok := m.syncID(); ok {
			if m.kind != kindReply || m.err != nil || m.ret == nil {
				t.Fatalf("id %d from %q (%+v)", id, line, m)
			}
		}
		if m.kind != kindReply && (m.ret != nil || m.err != nil) {
			t.Fatalf("non-reply with members: %q", line)
		}
		_ = decodeReply("c", m, new(any))
	})
}
