package caps

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
)

// ReplayFile probes capabilities from a libvirt .replies transcript (the
// QMP conversation libvirt's tests recorded with one QEMU binary: a KVM
// session, then a TCG one) instead of a running QEMU. Tests of other
// packages use it to stand in for a host with that QEMU.
func ReplayFile(path string) (*Caps, error) {
	sessions, err := parseReplies(path)
	if err != nil {
		return nil, err
	}
	if len(sessions) != 2 {
		return nil, fmt.Errorf("%s: want a KVM and a TCG session, got %d", path, len(sessions))
	}
	ctx := context.Background()
	c, err := ProbeMonitor(ctx, sessions[0])
	if err != nil {
		return nil, err
	}
	if err := ProbeMonitorTCG(ctx, sessions[1], c); err != nil {
		return nil, err
	}
	c.Binary = "/usr/bin/qemu-system-x86_64"
	return c, nil
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
func parseReplies(path string) ([]*replayMonitor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var sessions []*replayMonitor
	var pending string
	for dec.More() {
		var msg map[string]json.RawMessage
		if err := dec.Decode(&msg); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
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
			return nil, fmt.Errorf("%s: reply without a command", path)
		}
		s := sessions[len(sessions)-1]
		b, _ := json.Marshal(msg)
		s.replies[pending] = append(s.replies[pending], b)
		pending = ""
	}
	return sessions, nil
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
