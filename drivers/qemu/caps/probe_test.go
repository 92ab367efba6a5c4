package caps

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
)

// foreignError mimics a QMP client whose error replies carry no
// ErrorClass method (the probe must not depend on one).
type foreignError struct{ Class, Desc string }

func (e *foreignError) Error() string { return e.Class + ": " + e.Desc }

type foreignMonitor struct{ inner *replayMonitor }

func (f foreignMonitor) Execute(ctx context.Context, cmd string, args, ret any) error {
	err := f.inner.Execute(ctx, cmd, args, ret)
	var ce *CommandError
	if errors.As(err, &ce) {
		return &foreignError{ce.Class, ce.Desc}
	}
	return err
}

// dyingMonitor answers normally until the limit, then fails every call
// the way a closed connection does.
type dyingMonitor struct {
	inner *replayMonitor
	left  int
}

var errGone = errors.New("monitor closed")

func (d *dyingMonitor) Execute(ctx context.Context, cmd string, args, ret any) error {
	if d.left <= 0 {
		return errGone
	}
	d.left--
	return d.inner.Execute(ctx, cmd, args, ret)
}

func replaySessions(t *testing.T) []*replayMonitor {
	dir := conformanceDir(t)
	return loadReplies(t, filepath.Join(dir, "qemucapabilitiesdata", "caps_7.2.0.x86_64.replies"))
}

func TestProbeToleratesUnclassifiedRefusals(t *testing.T) {
	want := probeReplay(t)
	got, err := ProbeMonitor(context.Background(), foreignMonitor{replaySessions(t)[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Flags) != len(want.Flags) || got.Has("sev-guest") {
		t.Errorf("flags differ with foreign errors: %d vs %d", len(got.Flags), len(want.Flags))
	}
}

func TestProbeFailsOnDeadMonitor(t *testing.T) {
	// query-sev-capabilities is the 3rd-from-last question; dying there
	// must fail the probe instead of reporting "no SEV".
	full := &dyingMonitor{inner: replaySessions(t)[0], left: 1 << 30}
	if _, err := ProbeMonitor(context.Background(), full); err != nil {
		t.Fatal(err)
	}
	asked := 1<<30 - full.left
	for _, n := range []int{0, 3, asked - 2, asked - 1} {
		d := &dyingMonitor{inner: replaySessions(t)[0], left: n}
		if _, err := ProbeMonitor(context.Background(), d); !errors.Is(err, errGone) {
			t.Errorf("monitor dying after %d of %d questions: err = %v", n, asked, err)
		}
	}
}

func TestProbeRejectsOldQEMU(t *testing.T) {
	m := &replayMonitor{replies: map[string][]json.RawMessage{
		"query-version": {json.RawMessage(`{"return":{"qemu":{"major":4,"minor":1,"micro":0},"package":""}}`)},
	}}
	if _, err := ProbeMonitor(context.Background(), m); err == nil {
		t.Error("QEMU 4.1 accepted")
	}
}
