package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"govirt/virerr"
)

// An image is restorable only once its save marked it complete.
func TestSaveHeaderPartialUntilComplete(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeSaveHeader(f, []byte("<domain/>"), true); err != nil {
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

// A managed save a killed daemon left before its header (empty, or
// cut inside it) is dropped at start like an incomplete one, while the
// error a restore of it gives stays libvirt's operation-failed.
func TestSaveHeaderUnreadableIsDropped(t *testing.T) {
	for _, content := range [][]byte{nil, saveMagic[:4], append(append([]byte{}, saveMagic...), 0, 0)} {
		path := filepath.Join(t.TempDir(), "img")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readSaveHeader(f)
		f.Close()
		if err == nil || !unusableManagedSave(err) {
			t.Errorf("%q: %v, want an unusable image", content, err)
		}
		var ve *virerr.Error
		if !errors.As(err, &ve) || ve.Code != virerr.ErrOperationFailed {
			t.Errorf("%q: %#v, want VIR_ERR_OPERATION_FAILED", content, err)
		}
	}
}
