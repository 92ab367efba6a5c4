package qmp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

// TestExecuteWithFiles passes two descriptors and has the fake monitor
// prove they are usable: it reads one file and writes into the other.
func TestExecuteWithFiles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("disk image"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()

	check := func(req qmptest.Request) error {
		if len(req.Files) != 2 {
			return fmt.Errorf("received %d files, want 2", len(req.Files))
		}
		b, err := io.ReadAll(req.Files[0])
		if err != nil || string(b) != "disk image" {
			return fmt.Errorf("first fd read %q, %v", b, err)
		}
		_, err = req.Files[1].Write([]byte("from qemu"))
		return err
	}
	m, srv := dialFake(t, qmp.Options{}, qmptest.Options{},
		qmptest.Exchange{Execute: "add-fd", Arguments: []byte(`{"fdset-id": 1}`),
			Reply: []byte(`{"return": {"fdset-id": 1, "fd": 42}}`), Check: check},
		qmptest.Return("query-status", nil, nil),
	)
	var ret struct {
		FDSetID int `json:"fdset-id"`
		FD      int
	}
	if err := m.ExecuteWithFiles(context.Background(), "add-fd", map[string]int{"fdset-id": 1}, &ret, in, pw); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if ret.FD != 42 {
		t.Errorf("ret = %+v", ret)
	}
	b, err := io.ReadAll(pr)
	if err != nil || string(b) != "from qemu" {
		t.Errorf("pipe got %q, %v", b, err)
	}
	// The files stay the caller's and the stream stays in sync.
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		t.Errorf("caller's file unusable: %v", err)
	}
	if err := m.Execute(context.Background(), "query-status", nil, nil); err != nil {
		t.Error(err)
	}
	srv.Done()
}

func TestExecuteWithBadFile(t *testing.T) {
	m, srv := dialFake(t, qmp.Options{}, qmptest.Options{}, qmptest.Return("query-status", nil, nil))
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = m.ExecuteWithFiles(context.Background(), "getfd", map[string]string{"fdname": "x"}, nil, f)
	if err == nil || errors.Is(err, qmp.ErrClosed) {
		t.Fatalf("closed file: err = %v; want a file error, not ErrClosed", err)
	}
	if err := m.ExecuteWithFiles(context.Background(), "getfd", nil, nil, nil); err == nil {
		t.Fatal("nil file accepted")
	}
	// Nothing reached the wire, so the stream is still in step.
	if err := m.Execute(context.Background(), "query-status", nil, nil); err != nil {
		t.Fatal(err)
	}
	srv.Done()
}
