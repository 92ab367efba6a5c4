package qmp_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"govirt/qmp"
)

// TestRealQEMU talks to an actual QEMU with no machine, so it needs no
// KVM, disk or network.
func TestRealQEMU(t *testing.T) {
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-S", "-nodefaults", "-machine", "none", "-display", "none",
		"-qmp", "unix:"+sock+",server=on,wait=off")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()

	var eofMu sync.Mutex
	var eofs []error
	// A failed Dial never calls OnEOF, so retrying with it set is safe.
	m := dialRetry(t, ctx, sock, exited, qmp.Options{OnEOF: func(err error) {
		eofMu.Lock()
		eofs = append(eofs, err)
		eofMu.Unlock()
	}})
	defer m.Close()

	if m.Greeting().Version.Major < 2 {
		t.Errorf("greeting = %+v", m.Greeting())
	}
	var ver struct {
		QEMU    qmp.Version `json:"qemu"`
		Package string
	}
	if err := m.Execute(ctx, "query-version", nil, &ver); err != nil {
		t.Fatal(err)
	}
	if ver.QEMU != m.Greeting().Version {
		t.Errorf("query-version %+v != greeting %+v", ver.QEMU, m.Greeting().Version)
	}
	var st struct {
		Status  string
		Running bool
	}
	if err := m.Execute(ctx, "query-status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "prelaunch" || st.Running {
		t.Errorf("query-status = %+v, want prelaunch (-S)", st)
	}
	var qe *qmp.Error
	if err := m.Execute(ctx, "no-such-command", nil, nil); !errors.As(err, &qe) || qe.Class != "CommandNotFound" {
		t.Errorf("unknown command: %v", err)
	}
	if err := m.Execute(ctx, "quit", nil, nil); err != nil && !errors.Is(err, qmp.ErrClosed) {
		t.Fatal(err)
	}
	waitClosed(t, m.Done(), "OnEOF after quit")
	m.Close()
	eofMu.Lock()
	defer eofMu.Unlock()
	if len(eofs) != 1 || !errors.Is(eofs[0], io.EOF) {
		t.Errorf("OnEOF calls = %v, want one io.EOF", eofs)
	}
}

// dialRetry waits for QEMU to create and listen on its socket.
func dialRetry(t *testing.T, ctx context.Context, sock string, exited <-chan error, opts qmp.Options) *qmp.Monitor {
	t.Helper()
	for {
		m, err := qmp.Dial(ctx, sock, opts)
		if err == nil {
			return m
		}
		select {
		case err := <-exited:
			t.Fatalf("qemu exited: %v", err)
		case <-ctx.Done():
			t.Fatalf("dial: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
