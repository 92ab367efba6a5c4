package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesAndLeavesNoTemp(t *testing.T) {
	testWrite(t, Write, Remove)
}

// The volatile forms behave the same but for the fsyncs.
func TestWriteVolatileReplacesAndLeavesNoTemp(t *testing.T) {
	testWrite(t, func(path string, data []byte, perm os.FileMode) error {
		return WriteVolatile(path, perm, data[:1], data[1:])
	}, RemoveVolatile)
}

func testWrite(t *testing.T, write func(string, []byte, os.FileMode) error, remove func(string) error) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.xml")
	for _, content := range []string{"one", "two"} {
		if err := write(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("got %q %v, want %q", got, err, content)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := remove(p); err != nil {
		t.Fatal(err)
	}
	if err := remove(p); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
}

func TestCleanTemp(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"vm.xml", ".hidden", ".vm.xml.tmp-", ".vm.xml.tmp-12a", "x.tmp-123", "notes.tmp-1"}
	stale := []string{".vm.xml.tmp-123456789", ".default.xml.tmp-42", "..xml.tmp-7"}
	for _, n := range append(append([]string{}, keep...), stale...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, ".d.xml.tmp-9"), 0o700) // not a file: kept
	// A temp file Write really makes is recognised.
	f, err := os.CreateTemp(dir, ".real.xml"+tempMark+"*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	stale = append(stale, filepath.Base(f.Name()))
	removed, err := CleanTemp(dir)
	if err != nil || len(removed) != len(stale) {
		t.Fatalf("removed %v, %v; want %v", removed, err, stale)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s not removed", n)
		}
	}
	for _, n := range append(keep, ".d.xml.tmp-9") {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed", n)
		}
	}
	if r, err := CleanTemp(filepath.Join(dir, "missing")); r != nil || err != nil {
		t.Errorf("missing dir: %v %v", r, err)
	}
}
