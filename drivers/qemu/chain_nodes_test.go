package qemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// A new raw image is made without qemu-img, as qemu-img would make it:
// the full size, sparse, the first block written, mode 0644 less umask.
func TestCreateRawImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "copy.raw")
	if err := createImage(path, "raw", 64<<20, "", ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 64<<20 || fi.Mode().Perm()&^0o644 != 0 {
		t.Fatalf("size %d mode %v", fi.Size(), fi.Mode())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 >= 64<<20 {
		t.Errorf("not sparse: %d bytes allocated", st.Blocks*512)
	}
	// A file that exists goes through qemu-img, which recreates it (and
	// would refuse one a running guest holds).
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	if err := os.WriteFile(path, []byte("old data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := createImage(path, "", 4096, "", ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 4096 || string(b[:8]) == "old data" {
		t.Fatalf("existing file not recreated: %q", b[:8])
	}
}
