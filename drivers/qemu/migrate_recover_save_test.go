package qemu

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// settleMon plays QEMU after migrate_cancel of a save in its final phase:
// query-migrate says cancelling, and query-status finish-migrate, for the
// first few calls; cont is refused until then, as QEMU refuses it.
type settleMon struct {
	mu      sync.Mutex
	polls   int
	settled int // polls before the migration has ended
	contErr bool
}

func (m *settleMon) Execute(_ context.Context, cmd string, _, ret any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	done := m.polls >= m.settled
	switch cmd {
	case "query-migrate":
		m.polls++
		st := `{"status":"cancelling"}`
		if done {
			st = `{"status":"cancelled"}`
		}
		return json.Unmarshal([]byte(st), ret)
	case "query-status":
		st := `{"running":false,"status":"finish-migrate"}`
		if done {
			st = `{"running":false,"status":"paused"}`
		}
		return json.Unmarshal([]byte(st), ret)
	}
	return nil
}

func (m *settleMon) Close() error { return nil }

// TestRecoverSaveWaitsForCancel: a daemon restarted during a save's final
// phase must not resume the guest before QEMU ended the cancelled
// migration (fault seed 1796679673843225377: cont got "Migration is not
// finalized yet" and the guest stayed paused (saving)).
func TestRecoverSaveWaitsForCancel(t *testing.T) {
	m := &settleMon{settled: 4}
	settleMigrationToFile(context.Background(), m, 5*time.Second)
	if m.polls < 4 {
		t.Fatalf("returned after %d polls, before the migration ended", m.polls)
	}
	// A monitor that never settles is given up on at the limit.
	m = &settleMon{settled: 1 << 30}
	start := time.Now()
	settleMigrationToFile(context.Background(), m, 200*time.Millisecond)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("waited %v past a 200ms limit", el)
	}
}
