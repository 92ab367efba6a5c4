package caps

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func fakeBinary(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu-system-x86_64")
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func countingProbe(n *atomic.Int32, delay time.Duration) func(context.Context, string, string) (*Caps, error) {
	return func(ctx context.Context, binary, runDir string) (*Caps, error) {
		n.Add(1)
		time.Sleep(delay)
		return &Caps{Version: 7002000, Arch: "x86_64", Flags: []string{"kvm", "tcg"},
			Machines: []Machine{{Name: "pc-i440fx-7.2", Alias: "pc", Default: true, MaxCPUs: 255}}}, nil
	}
}

func TestCacheProbesOnceConcurrently(t *testing.T) {
	bin := fakeBinary(t, "v1")
	var n atomic.Int32
	c := &Cache{Dir: t.TempDir(), probe: countingProbe(&n, 50*time.Millisecond)}
	var wg sync.WaitGroup
	results := make([]*Caps, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.Get(context.Background(), bin)
			if err != nil {
				t.Error(err)
			}
			results[i] = got
		}()
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d probes for one binary", n.Load())
	}
	for _, r := range results {
		if r != results[0] || r.Binary != bin || r.BinarySize != 2 {
			t.Fatalf("callers got different or unkeyed caps: %+v", r)
		}
	}
}

func TestCacheReusesFileAndReprobesOnChange(t *testing.T) {
	bin := fakeBinary(t, "v1")
	dir := t.TempDir()
	var n atomic.Int32
	probe := countingProbe(&n, 0)
	ctx := context.Background()

	if _, err := (&Cache{Dir: dir, probe: probe}).Get(ctx, bin); err != nil {
		t.Fatal(err)
	}
	// A new Cache (a restarted daemon) reads the file instead of probing.
	got, err := (&Cache{Dir: dir, probe: probe}).Get(ctx, bin)
	if err != nil || n.Load() != 1 || got.DefaultMachine() != "pc-i440fx-7.2" {
		t.Fatalf("file not reused: probes=%d err=%v", n.Load(), err)
	}
	// A changed binary (size and ctime) is probed again.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(bin, []byte("version 2"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Cache{Dir: dir, probe: probe}
	if got, err = c.Get(ctx, bin); err != nil || n.Load() != 2 || got.BinarySize != 9 {
		t.Fatalf("changed binary not re-probed: probes=%d err=%v", n.Load(), err)
	}
	// Same Cache again: served from memory.
	if _, err = c.Get(ctx, bin); err != nil || n.Load() != 2 {
		t.Fatalf("memory copy not used: probes=%d", n.Load())
	}
	// A corrupt file is repaired by probing, not reported.
	if err := os.WriteFile(c.path(bin), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = (&Cache{Dir: dir, probe: probe}).Get(ctx, bin); err != nil || n.Load() != 3 {
		t.Fatalf("corrupt file: probes=%d err=%v", n.Load(), err)
	}
	// Invalidate forces a probe.
	if err := c.Invalidate(bin); err != nil {
		t.Fatal(err)
	}
	if _, err = c.Get(ctx, bin); err != nil || n.Load() != 4 {
		t.Fatalf("invalidate: probes=%d err=%v", n.Load(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("cache dir holds %d files, want 1 (no temp files left)", len(entries))
	}
}

func TestCacheCallerCancelDoesNotAbortProbe(t *testing.T) {
	bin := fakeBinary(t, "v1")
	var n atomic.Int32
	c := &Cache{Dir: t.TempDir(), probe: countingProbe(&n, 100*time.Millisecond)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, bin); err == nil {
		t.Fatal("cancelled Get succeeded")
	}
	if _, err := c.Get(context.Background(), bin); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 {
		t.Errorf("%d probes", n.Load())
	}
}

func TestCacheRealQEMU(t *testing.T) {
	bin := realQEMU(t)
	c := &Cache{Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	first, err := c.Get(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	again, err := (&Cache{Dir: c.Dir}).Get(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Flags) != len(first.Flags) || again.Schema == nil || again.ValidateCommand("blockdev-add", []string{"driver"}) != nil {
		t.Error("cached caps differ from the probe")
	}
}
