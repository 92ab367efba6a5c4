package qemu

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// The spliced capabilities must read back as json.Marshal would have
// written them (the key moves to the end).
func TestMarshalStatusSplicesCaps(t *testing.T) {
	caps := json.RawMessage(`{"version":8002000,"flags":["a","b"]}`)
	st := status{Version: statusVersion, Name: "g", PID: 42}
	got, err := marshalStatus(&st, caps)
	if err != nil {
		t.Fatal(err)
	}
	st.Caps = caps
	want, err := json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	var g, w map[string]any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var back status
	if err := json.Unmarshal(got, &back); err != nil || !bytes.Equal(back.Caps, caps) {
		t.Fatalf("read back %v: %s", err, back.Caps)
	}
	st.Caps = nil
	plain, err := marshalStatus(&st, nil)
	if err != nil || bytes.Contains(plain, []byte("qemu_caps")) {
		t.Fatalf("without caps: %v %s", err, plain)
	}
}
