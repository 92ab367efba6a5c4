package qemu

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fdFakeMonitor is a fakeMonitor that also takes descriptors (getfd).
type fdFakeMonitor struct{ *fakeMonitor }

func (f fdFakeMonitor) ExecuteWithFiles(ctx context.Context, cmd string, args, ret any, _ ...*os.File) error {
	return f.Execute(ctx, cmd, args, ret)
}

// TestWatchdogDump: a watchdog with action='dump' pauses the guest (QEMU's
// pause), then the driver dumps its memory into the dump directory
// through a passed descriptor and resumes it, as libvirt's
// processWatchdogEvent.
func TestWatchdogDump(t *testing.T) {
	fm := &fakeMonitor{}
	d, v, ch := runningVM(t, fm, "<devices><watchdog model='i6300esb' action='dump'/></devices>")
	v.mon = fdFakeMonitor{fm}
	d.handleEvent(v, "WATCHDOG", json.RawMessage(`{"action":"pause"}`))
	if e := nextEvent(t, ch); e.Payload == nil {
		t.Fatalf("watchdog event: %+v", e)
	}
	deadline := time.Now().Add(5 * time.Second)
	want := []string{"getfd", "dump-guest-memory", "cont"}
	for !slices.Equal(fm.commands(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("commands %v, want %v", fm.commands(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dumps, _ := filepath.Glob(filepath.Join(d.cfg.StateDir, "qemu", "dump", "*-ev-*"))
	if len(dumps) != 1 {
		t.Fatalf("dump files: %v", dumps)
	}
	// Only dump asks for it: other actions leave the guest to QEMU.
	fm2 := &fakeMonitor{}
	d2, v2, ch2 := runningVM(t, fm2, "<devices><watchdog model='i6300esb' action='pause'/></devices>")
	d2.handleEvent(v2, "WATCHDOG", json.RawMessage(`{"action":"pause"}`))
	nextEvent(t, ch2)
	time.Sleep(100 * time.Millisecond)
	if c := fm2.commands(); len(c) != 0 {
		t.Fatalf("pause action ran %v", c)
	}
}
