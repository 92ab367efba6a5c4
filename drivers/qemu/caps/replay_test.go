package caps

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// conformanceDir finds libvirt's recorded test data the way the rest of
// the tree does: $GOVIRT_CONFORMANCE_DIR or ../shared/conformance/... next
// to the module root.
func conformanceDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GOVIRT_CONFORMANCE_DIR")
	if dir == "" {
		// package dir is <root>/drivers/qemu/caps
		dir = filepath.Join("..", "..", "..", "..", "shared", "conformance", "libvirt-9.0.0")
	}
	if _, err := os.Stat(filepath.Join(dir, "qemucapabilitiesdata")); err != nil {
		t.Skipf("libvirt conformance data not found at %s (set GOVIRT_CONFORMANCE_DIR): %v", dir, err)
	}
	return dir
}

// replayMonitor answers from one QEMU process's part of a libvirt
// .replies transcript. It looks answers up by command and arguments
// rather than replaying in order, so the probe may skip or reorder
// questions; a question the transcript lacks is refused like QEMU
// refuses an unknown command, and remembered in misses.
type replayMonitor struct {
	mu      sync.Mutex
	replies map[string][]json.RawMessage
	misses  []string
	sent    []string
}

type replayEntry struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

func replayKey(cmd string, args any) string {
	if args == nil {
		return cmd
	}
	b, _ := json.Marshal(args)
	var generic any
	_ = json.Unmarshal(b, &generic)
	if m, ok := generic.(map[string]any); ok && len(m) == 0 {
		return cmd
	}
	b, _ = json.Marshal(generic) // map keys come out sorted
	return cmd + " " + string(b)
}

// loadReplies splits a transcript into one replayMonitor per QEMU
// process; each process starts with qmp_capabilities.
func loadReplies(t testing.TB, path string) []*replayMonitor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var sessions []*replayMonitor
	var pending string
	for dec.More() {
		var msg map[string]json.RawMessage
		if err := dec.Decode(&msg); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if raw, ok := msg["execute"]; ok {
			var cmd string
			_ = json.Unmarshal(raw, &cmd)
			var args any
			if a, ok := msg["arguments"]; ok {
				_ = json.Unmarshal(a, &args)
			}
			if cmd == "qmp_capabilities" {
				sessions = append(sessions, &replayMonitor{replies: map[string][]json.RawMessage{}})
			}
			pending = replayKey(cmd, args)
			continue
		}
		if len(sessions) == 0 || pending == "" {
			t.Fatalf("%s: reply without a command", path)
		}
		s := sessions[len(sessions)-1]
		b, _ := json.Marshal(msg)
		s.replies[pending] = append(s.replies[pending], b)
		pending = ""
	}
	return sessions
}

func (r *replayMonitor) Execute(ctx context.Context, cmd string, args any, ret any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := replayKey(cmd, args)
	r.mu.Lock()
	r.sent = append(r.sent, key)
	q := r.replies[key]
	if len(q) == 0 {
		r.misses = append(r.misses, key)
		r.mu.Unlock()
		return &CommandError{Class: "CommandNotFound", Desc: fmt.Sprintf("%s not in transcript", key)}
	}
	reply := q[0]
	if len(q) > 1 {
		r.replies[key] = q[1:]
	}
	r.mu.Unlock()
	var e replayEntry
	if err := json.Unmarshal(reply, &e); err != nil {
		return err
	}
	if e.Error != nil {
		return &CommandError{Class: e.Error.Class, Desc: e.Error.Desc}
	}
	if ret == nil {
		return nil
	}
	return json.Unmarshal(e.Return, ret)
}

// probeReplay runs both probes over the 7.2.0 transcript.
func probeReplay(t testing.TB) *Caps {
	t.Helper()
	dir := conformanceDir(t)
	sessions := loadReplies(t, filepath.Join(dir, "qemucapabilitiesdata", "caps_7.2.0.x86_64.replies"))
	if len(sessions) != 2 {
		t.Fatalf("want a KVM and a TCG session in the transcript, got %d", len(sessions))
	}
	ctx := context.Background()
	c, err := ProbeMonitor(ctx, sessions[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := ProbeMonitorTCG(ctx, sessions[1], c); err != nil {
		t.Fatal(err)
	}
	c.Binary = "/usr/bin/qemu-system-x86_64"
	for i, s := range sessions {
		if len(s.misses) > 0 {
			t.Logf("session %d: asked %d questions the transcript lacks: %v", i, len(s.misses), s.misses)
		}
	}
	return c
}
