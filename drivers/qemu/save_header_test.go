package qemu

import (
	"os"
	"path/filepath"
	"testing"
)

// An image is restorable only once its save marked it complete.
func TestSaveHeaderPartialUntilComplete(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeSaveHeader(f, []byte("<domain/>")); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, 0)
	if _, err := readSaveHeader(f); err != errSaveIncomplete {
		t.Fatalf("partial image read as %v", err)
	}
	if _, err := f.WriteAt(saveMagic, 0); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, 0)
	xml, err := readSaveHeader(f)
	if err != nil || string(xml) != "<domain/>" {
		t.Fatalf("complete image: %q %v", xml, err)
	}
}
