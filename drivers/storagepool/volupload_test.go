package storagepool

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// chunks is a sparse stream as the RPC layer delivers it: packets and
// holes (data == nil).
type chunks struct {
	items []chunkItem
}

type chunkItem struct {
	data []byte
	hole int64
}

func (c *chunks) ReadChunk(max int) ([]byte, int64, error) {
	if len(c.items) == 0 {
		return nil, 0, io.EOF
	}
	it := &c.items[0]
	if it.data != nil {
		n := min(max, len(it.data))
		d := it.data[:n]
		if it.data = it.data[n:]; len(it.data) == 0 {
			c.items = c.items[1:]
		}
		return d, 0, nil
	}
	n := min(int64(max), it.hole)
	if it.hole -= n; it.hole == 0 {
		c.items = c.items[1:]
	}
	return nil, n, nil
}

func (c *chunks) Read([]byte) (int, error) { panic("upload must use ReadChunk") }

// A sparse upload leaves holes unwritten: zeros where there was data,
// the file extended by a trailing hole, the length still enforced.
func TestUploadSparseHoles(t *testing.T) {
	base := t.TempDir()
	m, _ := newTestManager(t, base)
	h := startedPool(t, m, filepath.Join(base, "pool"))
	// Fully allocated and full of 0xff, so a hole must really zero.
	v, err := m.StorageVolCreateXML(h, "<volume><name>v</name><capacity>1048576</capacity></volume>", 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(base, "pool", "v")
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xff}, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := bytes.Repeat([]byte{'a'}, 4096), bytes.Repeat([]byte{'b'}, 8192)
	src := &chunks{items: []chunkItem{{data: a}, {hole: 512 << 10}, {data: b}, {hole: 1 << 20}}}
	if err := m.StorageVolUpload(v, src, 0, 0, uploadSparse); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := 4096 + 512<<10 + 8192
	want := append(append(append(a, make([]byte, 512<<10)...), b...), make([]byte, 1<<20)...)
	if len(got) != end+1<<20 || !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d; content differs: %v", len(got), len(want), !bytes.Equal(got, want))
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= int64(len(got)) {
		t.Logf("holes not punched (file system without hole punching?): %d bytes allocated", st.Blocks*512)
	}

	// With a length, a hole counts against it like data.
	src = &chunks{items: []chunkItem{{data: a}, {hole: 4096}, {data: []byte("x")}}}
	if err := m.StorageVolUpload(v, src, 0, 8192, uploadSparse); err == nil {
		t.Fatal("upload past its length accepted")
	}
	got, _ = os.ReadFile(path)
	if !bytes.Equal(got[:8192], append(append([]byte(nil), a...), make([]byte, 4096)...)) {
		t.Fatal("bounded sparse upload wrote the wrong range")
	}
}
