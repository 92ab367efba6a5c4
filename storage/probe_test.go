package storage

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// TestProbeMatchesQemuImg creates an image of every supported format with
// qemu-img and checks that ProbeFile reads what qemu-img info reads.
func TestProbeMatchesQemuImg(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	qemuImg(t, dir, "create", "-q", "-f", "raw", "base.raw", "1M")
	qemuImg(t, dir, "create", "-q", "-f", "qcow2", "base.qcow2", "2M")

	cases := []struct {
		name   string
		create []string
		// qemuFormat forces the format for qemu-img info, for images QEMU
		// does not probe (a fixed VHD probes as raw in QEMU).
		qemuFormat string
	}{
		{"plain.raw", []string{"-f", "raw", "plain.raw", "3M"}, ""},
		{"v2.qcow2", []string{"-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "5M"}, ""},
		{"v3.qcow2", []string{"-f", "qcow2", "v3.qcow2", "1G"}, ""},
		{"v2-backing.qcow2", []string{"-f", "qcow2", "-o", "compat=0.10", "-b", "base.raw", "-F", "raw", "v2-backing.qcow2"}, ""},
		{"v3-backing.qcow2", []string{"-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "v3-backing.qcow2"}, ""},
		{"abs-backing.qcow2", []string{"-f", "qcow2", "-b", filepath.Join(dir, "base.qcow2"), "-F", "qcow2", "abs-backing.qcow2", "4M"}, ""},
		{"small-cluster.qcow2", []string{"-f", "qcow2", "-o", "cluster_size=512", "small-cluster.qcow2", "1M"}, ""},
		{"big-cluster.qcow2", []string{"-f", "qcow2", "-o", "cluster_size=2M,lazy_refcounts=on", "big-cluster.qcow2", "10G"}, ""},
		{"extl2.qcow2", []string{"-f", "qcow2", "-o", "extended_l2=on,cluster_size=128k", "extl2.qcow2", "1G"}, ""},
		{"datafile.qcow2", []string{"-f", "qcow2", "-o", "data_file=datafile.raw", "datafile.qcow2", "1M"}, ""},
		{"datafile-raw.qcow2", []string{"-f", "qcow2", "-o", "data_file=datafile2.raw,data_file_raw=on", "datafile-raw.qcow2", "1M"}, ""},
		// AES rather than LUKS: LUKS key setup takes seconds and its timing
		// calibration fails on loaded machines. The header field is the same.
		{"aes.qcow2", []string{"--object", "secret,id=s0,data=pw", "-f", "qcow2", "-o",
			"encrypt.format=aes,encrypt.key-secret=s0", "aes.qcow2", "1M"}, ""},
		{"v1.qcow", []string{"-f", "qcow", "-b", "base.raw", "-F", "raw", "v1.qcow"}, ""},
		{"plain.qed", []string{"-f", "qed", "plain.qed", "7M"}, ""},
		{"raw-backing.qed", []string{"-f", "qed", "-b", "base.raw", "-F", "raw", "raw-backing.qed"}, ""},
		{"probe-backing.qed", []string{"-f", "qed", "-b", "base.qcow2", "-F", "qcow2", "probe-backing.qed"}, ""},
		{"sparse.vmdk", []string{"-f", "vmdk", "sparse.vmdk", "3M"}, ""},
		{"child.vmdk", []string{"-f", "vmdk", "-b", "sparse.vmdk", "-F", "vmdk", "child.vmdk"}, ""},
		{"flat.vmdk", []string{"-f", "vmdk", "-o", "subformat=monolithicFlat", "flat.vmdk", "2M"}, ""},
		{"split.vmdk", []string{"-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "split.vmdk", "5G"}, ""},
		{"stream.vmdk", []string{"-f", "vmdk", "-o", "subformat=streamOptimized", "stream.vmdk", "9M"}, ""},
		{"dynamic.vpc", []string{"-f", "vpc", "dynamic.vpc", "10M"}, ""},
		{"fixed.vpc", []string{"-f", "vpc", "-o", "subformat=fixed", "fixed.vpc", "3M"}, "vpc"},
		{"plain.vdi", []string{"-f", "vdi", "plain.vdi", "5M"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qemuImg(t, dir, append([]string{"create", "-q"}, c.create...)...)
			path := filepath.Join(dir, c.name)
			want := infoOf(t, path, c.qemuFormat)
			got, err := ProbeFile(path)
			if err != nil {
				t.Fatalf("ProbeFile: %v", err)
			}
			checkAgainstQemu(t, got, want)

			// Declaring the right format must give the same answer.
			as, err := ProbeFileAs(path, got.Format)
			if err != nil {
				t.Fatalf("ProbeFileAs(%s): %v", got.Format, err)
			}
			if *as != *got {
				t.Errorf("ProbeFileAs = %+v, Probe = %+v", as, got)
			}

			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.PhysicalSize != uint64(st.Size()) {
				t.Errorf("PhysicalSize = %d, want %d", got.PhysicalSize, st.Size())
			}
		})
	}
}

func checkAgainstQemu(t *testing.T, got *ImageInfo, want qemuInfo) {
	t.Helper()
	if got.Format != want.Format {
		t.Errorf("Format = %q, qemu-img says %q", got.Format, want.Format)
	}
	if got.VirtualSize != want.VirtualSize {
		t.Errorf("VirtualSize = %d, qemu-img says %d", got.VirtualSize, want.VirtualSize)
	}
	if got.BackingFile != want.BackingFile {
		t.Errorf("BackingFile = %q, qemu-img says %q", got.BackingFile, want.BackingFile)
	}
	if got.BackingFormat != want.BackingFormat {
		t.Errorf("BackingFormat = %q, qemu-img says %q", got.BackingFormat, want.BackingFormat)
	}
	// qemu-img reports a 512-byte "cluster" for qcow v1 whatever the
	// header says, and for a vmdk descriptor file the grain of an extent
	// file, which Probe does not open.
	if got.Format != FormatQcow && !(got.Format == FormatVMDK && got.ClusterSize == 0) &&
		got.ClusterSize != want.ClusterSize {
		t.Errorf("ClusterSize = %d, qemu-img says %d", got.ClusterSize, want.ClusterSize)
	}
	if got.Encrypted != want.Encrypted {
		t.Errorf("Encrypted = %v, qemu-img says %v", got.Encrypted, want.Encrypted)
	}
	d := want.FormatSpecific.Data
	if got.Format == FormatQcow2 {
		if got.Compat != d.Compat || got.DataFile != d.DataFile || got.DataFileRaw != d.DataFileRaw ||
			got.LazyRefcounts != d.LazyRefcounts || got.ExtendedL2 != d.ExtendedL2 {
			t.Errorf("qcow2 details %+v, qemu-img says %+v", got, d)
		}
	}
	if got.Format == FormatVMDK && got.CreateType != d.CreateType {
		t.Errorf("CreateType = %q, qemu-img says %q", got.CreateType, d.CreateType)
	}
}

// TestRawNeverMistaken: data without a signature at the places formats put
// theirs is raw, even when it contains other formats' magic elsewhere.
func TestRawNeverMistaken(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	random := make([]byte, 1<<16)
	rnd.Read(random)

	qcow2Header := readFile(t, "testdata/seeds/v3.qcow2")
	fixedFooter := readFile(t, "testdata/seeds/fixed.vpc")
	brokenFooter := bytes.Clone(fixedFooter)
	brokenFooter[len(brokenFooter)-512+48]++ // size changes, checksum no longer matches

	cases := map[string][]byte{
		"empty":              nil,
		"one byte":           {0x51},
		"short magic":        []byte("QFI"),
		"zeros":              make([]byte, 1<<20),
		"random":             random,
		"qcow2 at 512":       append(make([]byte, 512), qcow2Header...),
		"magics inside":      append(append(make([]byte, 4096), []byte("QFI\xfbQED\x00KDMVconectix")...), make([]byte, 4096)...),
		"broken vhd footer":  append(make([]byte, 4096), brokenFooter[len(brokenFooter)-512:]...),
		"descriptor late":    append([]byte("\n"), []byte(vmdkDescMagic)...),
		"vhd footer at 1024": append(append(make([]byte, 1024), fixedFooter[len(fixedFooter)-512:]...), make([]byte, 1024)...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			info, err := Probe(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if info.Format != FormatRaw || info.VirtualSize != uint64(len(data)) || info.BackingFile != "" {
				t.Fatalf("Probe = %+v, want raw of %d bytes", info, len(data))
			}
		})
	}

	// And qemu-img agrees on the interesting ones.
	if testing.Short() {
		return
	}
	needQemuImg(t)
	dir := t.TempDir()
	for _, name := range []string{"qcow2 at 512", "magics inside", "broken vhd footer"} {
		path := filepath.Join(dir, "img")
		writeFile(t, path, cases[name])
		if f := infoOf(t, path, "").Format; f != FormatRaw {
			t.Errorf("%s: qemu-img probes %s", name, f)
		}
	}
}

// TestDeclaredFormatWins: an image declared raw is raw whatever it holds,
// and an image declared as a format must carry that format's header.
func TestDeclaredFormatWins(t *testing.T) {
	qcow2 := readFile(t, "testdata/seeds/v3.qcow2")
	info, err := ProbeAs(bytes.NewReader(qcow2), int64(len(qcow2)), FormatRaw)
	if err != nil || info.Format != FormatRaw || info.BackingFile != "" {
		t.Fatalf("ProbeAs raw = %+v, %v", info, err)
	}
	for _, f := range []string{FormatQcow2, FormatQcow, FormatQED, FormatVMDK, FormatVPC, FormatVDI} {
		raw := make([]byte, 1<<16)
		if _, err := ProbeAs(bytes.NewReader(raw), int64(len(raw)), f); !errors.Is(err, ErrInvalidImage) {
			t.Errorf("ProbeAs(zeros, %s) = %v, want ErrInvalidImage", f, err)
		}
	}
	if _, err := ProbeAs(bytes.NewReader(qcow2), int64(len(qcow2)), FormatQED); !errors.Is(err, ErrInvalidImage) {
		t.Errorf("ProbeAs(qcow2, qed) = %v, want ErrInvalidImage", err)
	}
	if _, err := ProbeAs(bytes.NewReader(qcow2), int64(len(qcow2)), "vhdx"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("ProbeAs(vhdx) = %v, want ErrUnknownFormat", err)
	}
}

func TestProbeFileRejectsSpecialFiles(t *testing.T) {
	if _, err := ProbeFile(t.TempDir()); err == nil {
		t.Error("ProbeFile(directory) succeeded")
	}
	if _, err := ProbeFile("/dev/null"); err == nil {
		t.Error("ProbeFile(/dev/null) succeeded")
	}
	if _, err := ProbeFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ProbeFile(missing) = %v, want ErrNotExist", err)
	}
}

func TestProbeFileAllocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sparse.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	info, err := ProbeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.PhysicalSize != 64<<20 || info.VirtualSize != 64<<20 {
		t.Errorf("sizes = %d/%d, want %d", info.PhysicalSize, info.VirtualSize, 64<<20)
	}
	if info.Allocation < 1<<20 || info.Allocation >= 64<<20 {
		t.Errorf("Allocation = %d, want about 1 MiB of a sparse 64 MiB file", info.Allocation)
	}
}
