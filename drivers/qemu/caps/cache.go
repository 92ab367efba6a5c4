package caps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"govirt/atomicfile"
)

// cacheFormat changes whenever the probe learns to record something new,
// so caches written by an older govirt are re-probed rather than trusted
// (libvirt gets the same effect from its own binary's ctime).
const cacheFormat = 2 // 2: the host-model CPU expansions

type cacheFile struct {
	Format int   `json:"format"`
	Caps   *Caps `json:"caps"`
}

// Cache probes each emulator once and keeps the answer, in memory and as
// a JSON file per binary in Dir, until the binary (path, size, ctime) or
// the running kernel changes. The zero value is not usable: set Dir.
type Cache struct {
	Dir string
	// RunDir holds the probe's monitor sockets; Dir when empty.
	RunDir string

	// probe is Probe outside tests.
	probe func(ctx context.Context, binary, runDir string) (*Caps, error)

	mu       sync.Mutex
	mem      map[string]*Caps
	inflight map[string]*probeCall
}

type probeCall struct {
	done chan struct{}
	caps *Caps
	err  error
}

func (id BinaryIdentity) matches(c *Caps) bool {
	return c != nil && c.Binary == id.Path && c.BinarySize == id.Size &&
		c.BinaryCtime == id.Ctime && c.KernelVersion == id.KernelVersion
}

func (id BinaryIdentity) key() string {
	return fmt.Sprintf("%s\x00%d\x00%d\x00%s", id.Path, id.Size, id.Ctime, id.KernelVersion)
}

// Get returns binary's capabilities, probing only when nothing valid is
// cached. Concurrent calls for one binary share a single probe; the
// probe runs to completion even if the caller that started it gives up,
// so the others still get the answer. The returned Caps is shared: treat
// it as read-only.
func (c *Cache) Get(ctx context.Context, binary string) (*Caps, error) {
	if c.Dir == "" {
		return nil, errors.New("caps cache: no directory")
	}
	id, err := IdentifyBinary(binary)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.mem == nil {
		c.mem = map[string]*Caps{}
		c.inflight = map[string]*probeCall{}
	}
	if m := c.mem[binary]; id.matches(m) {
		c.mu.Unlock()
		return m, nil
	}
	call, running := c.inflight[id.key()]
	if !running {
		call = &probeCall{done: make(chan struct{})}
		c.inflight[id.key()] = call
		go c.fill(context.WithoutCancel(ctx), id, call)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.caps, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cache) fill(ctx context.Context, id BinaryIdentity, call *probeCall) {
	call.caps, call.err = c.load(id)
	if call.caps == nil && call.err == nil {
		call.caps, call.err = c.probeAndStore(ctx, id)
	}
	c.mu.Lock()
	if call.err == nil {
		c.mem[id.Path] = call.caps
	}
	delete(c.inflight, id.key())
	c.mu.Unlock()
	close(call.done)
}

func (c *Cache) path(binary string) string {
	sum := sha256.Sum256([]byte(binary))
	return filepath.Join(c.Dir, filepath.Base(binary)+"-"+hex.EncodeToString(sum[:8])+".json")
}

// load returns the stored caps when they are still valid, nil when
// there are none or they are stale or unreadable (a re-probe repairs a
// corrupt file, so that is no error).
func (c *Cache) load(id BinaryIdentity) (*Caps, error) {
	data, err := os.ReadFile(c.path(id.Path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f cacheFile
	if json.Unmarshal(data, &f) != nil || f.Format != cacheFormat || !id.matches(f.Caps) {
		return nil, nil
	}
	return f.Caps, nil
}

func (c *Cache) probeAndStore(ctx context.Context, id BinaryIdentity) (*Caps, error) {
	probe := c.probe
	if probe == nil {
		probe = Probe
	}
	runDir := c.RunDir
	if runDir == "" {
		runDir = c.Dir
	}
	caps, err := probe(ctx, id.Path, runDir)
	if err != nil {
		return nil, err
	}
	// Key the entry on the identity seen before probing: if the binary
	// changed meanwhile, the next Get sees a mismatch and probes again.
	caps.Binary, caps.BinarySize, caps.BinaryCtime, caps.KernelVersion = id.Path, id.Size, id.Ctime, id.KernelVersion
	data, err := json.Marshal(cacheFile{Format: cacheFormat, Caps: caps})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(c.path(id.Path), data, 0o600); err != nil {
		return nil, fmt.Errorf("caps cache: %w", err)
	}
	return caps, nil
}

// Invalidate forgets binary's capabilities so the next Get probes.
func (c *Cache) Invalidate(binary string) error {
	c.mu.Lock()
	delete(c.mem, binary)
	c.mu.Unlock()
	err := os.Remove(c.path(binary))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
