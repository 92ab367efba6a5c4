package qmp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

// TestReplayCaps72 drives libvirt's QEMU 7.2.0 capability probe transcript
// through Execute and checks every reply comes back as recorded.
func TestReplayCaps72(t *testing.T) {
	path := filepath.Join(conformanceDir(), "qemucapabilitiesdata", "caps_7.2.0.x86_64.replies")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("conformance data not available (set GOVIRT_CONFORMANCE_DIR): %v", err)
	}
	exchanges, err := qmptest.LoadReplies(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(exchanges) < 2 || exchanges[0].Execute != "qmp_capabilities" {
		t.Fatalf("unexpected transcript start: %d exchanges", len(exchanges))
	}
	srv := qmptest.NewServer(t, exchanges, qmptest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := qmp.Dial(ctx, srv.Path(), qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	var nerr int
	for i, ex := range exchanges[1:] {
		var want struct {
			Return json.RawMessage
			Error  *qmp.Error
		}
		if err := json.Unmarshal(ex.Reply, &want); err != nil {
			t.Fatalf("exchange %d: %v", i+1, err)
		}
		var got json.RawMessage
		var args any
		if ex.Arguments != nil {
			args = ex.Arguments
		}
		err := m.Execute(ctx, ex.Execute, args, &got)
		if want.Error != nil {
			nerr++
			var qe *qmp.Error
			if !errors.As(err, &qe) || qe.Class != want.Error.Class || qe.Desc != want.Error.Desc {
				t.Errorf("%s: err = %v, want %s: %s", ex.Execute, err, want.Error.Class, want.Error.Desc)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", ex.Execute, err)
			continue
		}
		if !jsonEqual(t, got, want.Return) {
			t.Errorf("%s %s: reply differs from transcript", ex.Execute, ex.Arguments)
		}
	}
	if nerr == 0 {
		t.Error("transcript has error replies; none was seen")
	}
	srv.Done()
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.NewDecoder(bytes.NewReader(a)).Decode(&va); err != nil {
		t.Errorf("decoding %.100s: %v", a, err)
		return false
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&vb); err != nil {
		t.Errorf("decoding %.100s: %v", b, err)
		return false
	}
	return reflect.DeepEqual(va, vb)
}
