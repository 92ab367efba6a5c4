package admin

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLogControl(t *testing.T) {
	lc, err := NewLogControl(slog.LevelInfo, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	lc.errw = &buf
	if err := lc.SetOutputs(""); err != nil {
		t.Fatal(err)
	}
	if s, n := lc.Outputs(); s != "2:stderr" || n != 1 {
		t.Fatalf("%q %d", s, n)
	}
	log := lc.Logger().With("k", "v")
	log.Debug("hidden")
	log.Info("shown")
	if !strings.Contains(buf.String(), "shown") || strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "k=v") {
		t.Fatalf("%q", buf.String())
	}
	// A filter matching this package lets its debug records through; the
	// output's own priority still applies.
	if err := lc.SetFilters("1:govirt/admin +4:qemu"); err != nil {
		t.Fatal(err)
	}
	if s, n := lc.Filters(); s != "1:govirt/admin 4:qemu " || n != 2 {
		t.Fatalf("%q %d", s, n)
	}
	log.Debug("still hidden by the output")
	if err := lc.SetOutputs("1:stderr"); err != nil {
		t.Fatal(err)
	}
	log.Debug("debug through")
	if strings.Contains(buf.String(), "still hidden") || !strings.Contains(buf.String(), "debug through") {
		t.Fatalf("%q", buf.String())
	}
	for spec, want := range map[string]string{
		"x":          "Malformed format for log output 'x'",
		"0:stderr":   "Invalid log priority '0' for log output '0:stderr'",
		"1:journal":  "Invalid log destination 'journal' for log output '1:journal'",
		"1:file":     "does not meet the format requirements",
		"1:stderr:x": "does not meet the format requirements",
	} {
		if err := lc.SetOutputs(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("outputs %q: %v", spec, err)
		}
	}
	for spec, want := range map[string]string{"x": "Malformed format for filter 'x'", "5:a": "Invalid priority '5'", "1:+": "Invalid match string '+'"} {
		if err := lc.SetFilters(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("filters %q: %v", spec, err)
		}
	}
	if err := lc.SetFilters(""); err != nil {
		t.Fatal(err)
	}
	if _, n := lc.Filters(); n != 0 {
		t.Fatal("filters not cleared")
	}
}
