package xdr

import "testing"

func FuzzXDRUnmarshal(f *testing.F) {
	in := sample()
	b, _ := Marshal(&in)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(b[:len(b)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		var out kitchen
		if err := Unmarshal(data, &out); err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same value.
		again, err := Marshal(&out)
		if err != nil {
			return // e.g. Limited decoded within bounds always; other errors are fine
		}
		var out2 kitchen
		if err := Unmarshal(again, &out2); err != nil {
			t.Fatalf("re-decode failed: %v", err)
		}
	})
}
