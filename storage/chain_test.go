package storage

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChainRelativeAndAbsolute: base <- mid (relative "../base.qcow2") <-
// top (absolute path to mid), checked against qemu-img's own chain.
func TestChainRelativeAndAbsolute(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	other := filepath.Join(dir, "other")
	os.MkdirAll(sub, 0o755)
	os.MkdirAll(other, 0o755)
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "base.qcow2", "8M")
	qemuImg(t, sub, "create", "-q", "-f", "qcow2", "-b", "../base.qcow2", "-F", "qcow2", "mid.qcow2", "16M")
	qemuImg(t, other, "create", "-q", "-f", "qcow2", "-b", filepath.Join(sub, "mid.qcow2"), "-F", "qcow2", "top.qcow2")

	top := filepath.Join(other, "top.qcow2")
	chain, err := DetectChain(top, FormatQcow2, ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := chainInfo(t, top)
	if len(chain.Layers) != 3 || len(want) != 3 {
		t.Fatalf("chain has %d layers, qemu-img %d: %+v", len(chain.Layers), len(want), chain.Layers)
	}
	// QEMU concatenates rather than cleans: "sub/../base.qcow2".
	wantPaths := []string{top, filepath.Join(sub, "mid.qcow2"), sub + "/../base.qcow2"}
	wantBacking := []string{filepath.Join(sub, "mid.qcow2"), "../base.qcow2", ""}
	for i, l := range chain.Layers {
		if l.Path != wantPaths[i] || l.Path != want[i].Filename {
			t.Errorf("layer %d path %q, want %q (qemu-img %q)", i, l.Path, wantPaths[i], want[i].Filename)
		}
		if l.BackingFile != wantBacking[i] {
			t.Errorf("layer %d backing %q, want %q", i, l.BackingFile, wantBacking[i])
		}
		if l.Format != want[i].Format || l.VirtualSize != want[i].VirtualSize || l.Probed {
			t.Errorf("layer %d = %+v, qemu-img %+v", i, l, want[i])
		}
		if l.Allocation == 0 || l.PhysicalSize == 0 || l.Info == nil {
			t.Errorf("layer %d has no allocation/physical size/info: %+v", i, l)
		}
	}
	if chain.Layers[0].VirtualSize != 16<<20 || chain.Layers[2].VirtualSize != 8<<20 {
		t.Errorf("sizes %d, %d", chain.Layers[0].VirtualSize, chain.Layers[2].VirtualSize)
	}
}

// TestChainOtherFormats: qed and vmdk declare their backing format in their
// own ways (a raw flag; vmdk parents are vmdk).
func TestChainOtherFormats(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "raw", "base.raw", "1M")
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "mid.qcow2")
	qemuImg(t, dir, "create", "-q", "-f", "qed", "-b", "base.raw", "-F", "raw", "top.qed")
	qemuImg(t, dir, "create", "-q", "-f", "vmdk", "base.vmdk", "2M")
	qemuImg(t, dir, "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "top.vmdk")
	qemuImg(t, dir, "create", "-q", "-f", "qed", "-b", "mid.qcow2", "-F", "qcow2", "probe.qed")

	for top, formats := range map[string][]string{
		"top.qed":   {FormatQED, FormatRaw},
		"top.vmdk":  {FormatVMDK, FormatVMDK},
		"mid.qcow2": {FormatQcow2, FormatRaw},
	} {
		chain, err := DetectChain(filepath.Join(dir, top), formats[0], ChainOptions{})
		if err != nil {
			t.Fatalf("%s: %v", top, err)
		}
		if len(chain.Layers) != len(formats) {
			t.Fatalf("%s: %d layers", top, len(chain.Layers))
		}
		for i, f := range formats {
			if chain.Layers[i].Format != f {
				t.Errorf("%s layer %d: format %s, want %s", top, i, chain.Layers[i].Format, f)
			}
		}
	}

	// QED can only declare raw; a qcow2 backing is left to probing.
	_, err := DetectChain(filepath.Join(dir, "probe.qed"), FormatQED, ChainOptions{})
	if !errors.Is(err, ErrFormatNotDeclared) {
		t.Fatalf("qed with qcow2 backing: %v, want ErrFormatNotDeclared", err)
	}
	chain, err := DetectChain(filepath.Join(dir, "probe.qed"), FormatQED, ChainOptions{AllowProbe: true})
	if err != nil || len(chain.Layers) != 3 || !chain.Layers[1].Probed || chain.Layers[1].Format != FormatQcow2 {
		t.Fatalf("qed with AllowProbe: %+v, %v", chain, err)
	}
}

// TestChainLoop: a -> b -> a made with rebase -u, and a self-loop through a
// symlink.
func TestChainLoop(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "a.qcow2", "1M")
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2")
	qemuImg(t, dir, "rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", "a.qcow2")

	_, err := DetectChain(filepath.Join(dir, "a.qcow2"), FormatQcow2, ChainOptions{})
	if !errors.Is(err, ErrLoop) {
		t.Fatalf("a->b->a: %v, want ErrLoop", err)
	}
	if !strings.Contains(err.Error(), "'a.qcow2'") || !strings.Contains(err.Error(), "b.qcow2") {
		t.Errorf("loop error does not name the files: %v", err)
	}

	if err := os.Symlink("self.qcow2", filepath.Join(dir, "link.qcow2")); err != nil {
		t.Fatal(err)
	}
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-u", "-b", "link.qcow2", "-F", "qcow2", "self.qcow2", "1M")
	if _, err := DetectChain(filepath.Join(dir, "self.qcow2"), FormatQcow2, ChainOptions{}); !errors.Is(err, ErrLoop) {
		t.Fatalf("self loop through symlink: %v, want ErrLoop", err)
	}
}

func TestChainMissingBacking(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "base.qcow2", "1M")
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2")
	os.Remove(filepath.Join(dir, "base.qcow2"))
	_, err := DetectChain(filepath.Join(dir, "top.qcow2"), FormatQcow2, ChainOptions{})
	if !errors.Is(err, ErrMissingBacking) {
		t.Fatalf("%v, want ErrMissingBacking", err)
	}
	if !strings.Contains(err.Error(), "'base.qcow2'") || !strings.Contains(err.Error(), filepath.Join(dir, "base.qcow2")) {
		t.Errorf("error does not name the missing file: %v", err)
	}

	// The top image itself missing is an ordinary not-exist error.
	_, err = DetectChain(filepath.Join(dir, "nope.qcow2"), FormatQcow2, ChainOptions{})
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrMissingBacking) {
		t.Errorf("missing top: %v", err)
	}
}

// TestChainRelativeThroughSymlink: like QEMU, a relative backing name is
// resolved against the directory of the path used to reach the image, not
// the symlink's target.
func TestChainRelativeThroughSymlink(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	real, links := filepath.Join(dir, "real"), filepath.Join(dir, "links")
	os.MkdirAll(real, 0o755)
	os.MkdirAll(links, 0o755)
	qemuImg(t, real, "create", "-q", "-f", "qcow2", "base.qcow2", "1M")
	qemuImg(t, real, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2")
	if err := os.Symlink(filepath.Join(real, "top.qcow2"), filepath.Join(links, "top.qcow2")); err != nil {
		t.Fatal(err)
	}
	_, err := DetectChain(filepath.Join(links, "top.qcow2"), FormatQcow2, ChainOptions{})
	if !errors.Is(err, ErrMissingBacking) || !strings.Contains(err.Error(), filepath.Join(links, "base.qcow2")) {
		t.Fatalf("%v, want ErrMissingBacking for %s", err, filepath.Join(links, "base.qcow2"))
	}
	os.Symlink(filepath.Join(real, "base.qcow2"), filepath.Join(links, "base.qcow2"))
	chain, err := DetectChain(filepath.Join(links, "top.qcow2"), FormatQcow2, ChainOptions{})
	if err != nil || len(chain.Layers) != 2 || chain.Layers[1].Path != filepath.Join(links, "base.qcow2") {
		t.Fatalf("%+v, %v", chain, err)
	}
}

// undeclare rewrites the backing-format header extension of a qcow2 file
// into an unknown one, which QEMU skips: the image then names its backing
// file without a format, as images made before -F was required do.
func undeclare(t *testing.T, path string) {
	t.Helper()
	b := readFile(t, path)
	off := binary.BigEndian.Uint32(b[100:])
	if binary.BigEndian.Uint32(b[off:]) != qcow2ExtBackingFormat {
		t.Fatalf("%s: no backing format extension at %d", path, off)
	}
	binary.BigEndian.PutUint32(b[off:], 0x12345678)
	writeFile(t, path, b)
	if f := infoOf(t, path, "").BackingFormat; f != "" {
		t.Fatalf("qemu-img still sees backing format %q", f)
	}
}

func TestChainUndeclaredFormat(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "base.qcow2", "1M")
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2")
	top := filepath.Join(dir, "top.qcow2")
	undeclare(t, top)

	_, err := DetectChain(top, FormatQcow2, ChainOptions{})
	if !errors.Is(err, ErrFormatNotDeclared) {
		t.Fatalf("%v, want ErrFormatNotDeclared", err)
	}
	if !strings.Contains(err.Error(), "backing file 'base.qcow2' of '"+top+"' has no declared format; refusing to probe it") {
		t.Errorf("unexpected message: %v", err)
	}

	chain, err := DetectChain(top, FormatQcow2, ChainOptions{AllowProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(chain.Layers) != 2 || chain.Layers[1].Format != FormatQcow2 || !chain.Layers[1].Probed || chain.Layers[0].Probed {
		t.Fatalf("AllowProbe chain: %+v", chain.Layers)
	}

	// The top image's own format is subject to the same rule.
	if _, err := DetectChain(top, "", ChainOptions{}); !errors.Is(err, ErrFormatNotDeclared) {
		t.Errorf("undeclared top: %v", err)
	}
	if c, err := DetectChain(filepath.Join(dir, "base.qcow2"), "", ChainOptions{AllowProbe: true}); err != nil || c.Layers[0].Format != FormatQcow2 {
		t.Errorf("probed top: %+v, %v", c, err)
	}
}

// TestChainRawBackingIsNotProbed is the attack the format rule exists for:
// a guest writes a qcow2 header pointing at a host file into its raw disk.
// Declared raw, it stays raw and the chain ends there.
func TestChainRawBackingIsNotProbed(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/passwd", "-F", "raw", "evil.qcow2", "1M")
	evil := readFile(t, filepath.Join(dir, "evil.qcow2"))
	writeFile(t, filepath.Join(dir, "guest.raw"), append(evil[:4096:4096], make([]byte, 1<<20)...))
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-b", "guest.raw", "-F", "raw", "top.qcow2", "1M")

	chain, err := DetectChain(filepath.Join(dir, "top.qcow2"), FormatQcow2, ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(chain.Layers) != 2 || chain.Layers[1].Format != FormatRaw || chain.Layers[1].BackingFile != "" {
		t.Fatalf("chain followed the guest's header: %+v", chain.Layers)
	}
}

func TestChainDeclaredFormatMismatch(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "raw", "base.img", "1M")
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-u", "-b", "base.img", "-F", "qcow2", "top.qcow2", "1M")
	_, err := DetectChain(filepath.Join(dir, "top.qcow2"), FormatQcow2, ChainOptions{})
	if !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), "base.img") {
		t.Fatalf("%v, want ErrInvalidImage naming base.img", err)
	}
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-u", "-b", "base.img", "-F", "vhdx", "vhdx.qcow2", "1M")
	_, err = DetectChain(filepath.Join(dir, "vhdx.qcow2"), FormatQcow2, ChainOptions{})
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("%v, want ErrUnknownFormat", err)
	}
	if _, err := DetectChain(filepath.Join(dir, "base.img"), "iso", ChainOptions{}); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("%v, want ErrUnknownFormat", err)
	}
}

func TestChainTooDeep(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "l0.qcow2", "1M")
	for _, n := range []string{"1", "2", "3", "4"} {
		prev := "l" + string(rune(n[0]-1)) + ".qcow2"
		qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-b", prev, "-F", "qcow2", "l"+n+".qcow2")
	}
	top := filepath.Join(dir, "l4.qcow2")
	if c, err := DetectChain(top, FormatQcow2, ChainOptions{MaxDepth: 5}); err != nil || len(c.Layers) != 5 {
		t.Fatalf("depth 5: %v", err)
	}
	_, err := DetectChain(top, FormatQcow2, ChainOptions{MaxDepth: 4})
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("%v, want ErrTooDeep", err)
	}
}

// TestChainDefaultDepth builds a chain longer than DefaultMaxDepth by
// writing headers directly (qemu-img would take a while for 201 images).
func TestChainDefaultDepth(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-b", "next.qcow2", "-F", "qcow2", "-u", "tmpl.qcow2", "1M")
	// Every image sits one directory below the one naming it, so a single
	// header with the backing name "d/next.qcow2" serves the whole chain.
	// Only the header is kept: nothing past it is read.
	img := readFile(t, filepath.Join(dir, "tmpl.qcow2"))[:1024]
	nameOff := binary.BigEndian.Uint64(img[8:])
	name := "d/next.qcow2"
	copy(img[nameOff:], name)
	binary.BigEndian.PutUint32(img[16:], uint32(len(name)))
	p := dir
	for i := 0; i <= DefaultMaxDepth; i++ {
		writeFile(t, filepath.Join(p, "next.qcow2"), img)
		p = filepath.Join(p, "d")
	}
	_, err := DetectChain(filepath.Join(dir, "next.qcow2"), FormatQcow2, ChainOptions{})
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("%v, want ErrTooDeep", err)
	}
}

func TestChainNetworkBacking(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "-u", "-b", "nbd://localhost:10809/export", "-F", "raw", "top.qcow2", "1M")
	chain, err := DetectChain(filepath.Join(dir, "top.qcow2"), FormatQcow2, ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(chain.Layers) != 2 || chain.Layers[1].Protocol != "nbd" || chain.Layers[1].Format != FormatRaw ||
		chain.Layers[1].Path != "nbd://localhost:10809/export" {
		t.Fatalf("%+v", chain.Layers)
	}
}

func TestResolveBacking(t *testing.T) {
	cases := []struct {
		parent, name, path, proto string
		err                       error
	}{
		{"/a/b/top.qcow2", "base.qcow2", "/a/b/base.qcow2", "", nil},
		{"/a/b/top.qcow2", "../base.qcow2", "/a/b/../base.qcow2", "", nil},
		{"/a/b/top.qcow2", "/abs/base", "/abs/base", "", nil},
		{"top.qcow2", "base.qcow2", "base.qcow2", "", nil},
		{"x/top.qcow2", "y/base.qcow2", "x/y/base.qcow2", "", nil},
		{"/a/top", "file:/abs/base", "/abs/base", "", nil},
		{"/a/top", "file:rel", "", "", ErrUnsupported},
		{"/a/top", "rbd:pool/image", "rbd:pool/image", "rbd", nil},
		{"/a/top", `json:{"file":{}}`, `json:{"file":{}}`, "json", nil},
		{"/a/top", "weird:thing", "", "", ErrUnsupported},
		{"/a/top", "dir/with:colon", "/a/dir/with:colon", "", nil},
	}
	for _, c := range cases {
		path, proto, err := resolveBacking(c.parent, c.name)
		if path != c.path || proto != c.proto || !errors.Is(err, c.err) {
			t.Errorf("resolveBacking(%q, %q) = %q, %q, %v; want %q, %q, %v",
				c.parent, c.name, path, proto, err, c.path, c.proto, c.err)
		}
	}
}
