package caps

import (
	"context"
	"os"
	"path/filepath"
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

// loadReplies splits a transcript, failing the test on a bad file.
func loadReplies(t testing.TB, path string) []*replayMonitor {
	t.Helper()
	s, err := parseReplies(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
