package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// TestTruncatedQcow2: every cut of a qcow2 header that loses part of the
// header or of the backing name fails with ErrInvalidImage, whether the
// format is probed or declared.
func TestTruncatedQcow2(t *testing.T) {
	for _, seed := range []string{"v2.qcow2", "v3.qcow2"} {
		img := readFile(t, "testdata/seeds/"+seed)
		full, err := Probe(bytes.NewReader(img), int64(len(img)))
		if err != nil || full.BackingFile == "" {
			t.Fatalf("%s: Probe = %+v, %v", seed, full, err)
		}
		nameEnd := int(binary.BigEndian.Uint64(img[8:])) + int(binary.BigEndian.Uint32(img[16:]))
		for n := 4; n < nameEnd; n++ {
			cut := img[:n]
			if _, err := Probe(bytes.NewReader(cut), int64(n)); !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("%s cut at %d: Probe err = %v, want ErrInvalidImage", seed, n, err)
			}
			if _, err := ProbeAs(bytes.NewReader(cut), int64(n), FormatQcow2); !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("%s cut at %d: ProbeAs err = %v, want ErrInvalidImage", seed, n, err)
			}
		}
	}
}

// TestTruncatedReader: the caller claims a size the reader cannot back.
func TestTruncatedReader(t *testing.T) {
	img := readFile(t, "testdata/seeds/v3.qcow2")[:80]
	_, err := Probe(bytes.NewReader(img), 1<<40)
	if !errors.Is(err, ErrInvalidImage) {
		t.Fatalf("Probe = %v, want ErrInvalidImage", err)
	}
}

func TestMalformedQcow2(t *testing.T) {
	base := readFile(t, "testdata/seeds/v3.qcow2")
	put32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.BigEndian.PutUint32(b[off:], v) }
	}
	put64 := func(off int, v uint64) func([]byte) {
		return func(b []byte) { binary.BigEndian.PutUint64(b[off:], v) }
	}
	extOff := 112 // qemu-img 7 writes 112-byte v3 headers
	cases := []struct {
		name   string
		mutate func([]byte)
		want   error
		msg    string
	}{
		{"version 4", put32(4, 4), ErrInvalidImage, "version 4"},
		{"version 0", put32(4, 0), ErrInvalidImage, "version 0"},
		{"cluster bits 0", put32(20, 0), ErrInvalidImage, "cluster bits"},
		{"cluster bits 64", put32(20, 64), ErrInvalidImage, "cluster bits"},
		{"cluster bits 22", put32(20, 22), ErrInvalidImage, "cluster bits"},
		{"huge virtual size", put64(24, 1<<63), ErrInvalidImage, "virtual size"},
		{"size beyond L1", put64(24, 1<<60), ErrInvalidImage, "virtual size"},
		{"backing offset huge", put64(8, 1<<62), ErrInvalidImage, "backing file name"},
		{"backing offset wraps", put64(8, ^uint64(0)-2), ErrInvalidImage, "backing file name"},
		{"backing offset in header", put64(8, 16), ErrInvalidImage, "overlaps"},
		{"backing name too long", put32(16, 4096), ErrInvalidImage, "length 4096"},
		{"backing name past cluster", put32(16, 65536), ErrInvalidImage, "first cluster"},
		{"backing name past EOF", put32(16, 1000), ErrInvalidImage, "truncated"},
		{"header length short", put32(100, 72), ErrInvalidImage, "header length"},
		{"header length huge", put32(100, 0xffffffff), ErrInvalidImage, "header length"},
		{"crypt method 7", put32(32, 7), ErrInvalidImage, "encryption"},
		{"crypt method luks", put32(32, 2), nil, ""},
		{"extension length huge", put32(extOff+4, 0xfffffff0), ErrInvalidImage, "overflows"},
		{"backing format too long", put32(extOff+4, 200), ErrInvalidImage, "backing format"},
		{"NUL in backing name", func(b []byte) {
			b[binary.BigEndian.Uint64(b[8:])] = 0
		}, ErrInvalidImage, "NUL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := bytes.Clone(base)
			if binary.BigEndian.Uint32(img[extOff:]) != qcow2ExtBackingFormat {
				t.Skip("seed layout differs from the one these offsets assume")
			}
			c.mutate(img)
			info, err := Probe(bytes.NewReader(img), int64(len(img)))
			if c.want == nil {
				if err != nil || !info.Encrypted || info.EncryptionFormat != "luks" {
					t.Fatalf("Probe = %+v, %v; want luks-encrypted", info, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Probe = %+v, %v; want %v", info, err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

func TestMalformedOthers(t *testing.T) {
	le32 := func(seed string, off int, v uint32) []byte {
		b := readFile(t, "testdata/seeds/"+seed)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	le64 := func(seed string, off int, v uint64) []byte {
		b := readFile(t, "testdata/seeds/"+seed)
		binary.LittleEndian.PutUint64(b[off:], v)
		return b
	}
	be32 := func(seed string, off int, v uint32) []byte {
		b := readFile(t, "testdata/seeds/"+seed)
		binary.BigEndian.PutUint32(b[off:], v)
		return b
	}
	cases := map[string][]byte{
		"qed cluster 3":          le32("raw-backing.qed", 4, 3),
		"qed table 0":            le32("raw-backing.qed", 8, 0),
		"qed header 0":           le32("raw-backing.qed", 12, 0),
		"qed size odd":           le64("raw-backing.qed", 48, 1<<20+1),
		"qed size huge":          le64("raw-backing.qed", 48, 1<<62),
		"qed name offset":        le32("raw-backing.qed", 56, 0xffffff00),
		"qed name length":        le32("raw-backing.qed", 60, 0xffffff00),
		"qed name past EOF":      le32("raw-backing.qed", 60, 2000),
		"vmdk version 9":         le32("backing.vmdk", 4, 9),
		"vmdk capacity":          le64("backing.vmdk", 12, 1<<60),
		"vmdk grain 0":           le64("backing.vmdk", 20, 0),
		"vmdk grain 3":           le64("backing.vmdk", 20, 3),
		"vmdk descriptor far":    le64("backing.vmdk", 28, 1<<62),
		"vmdk descriptor huge":   le64("backing.vmdk", 36, 1<<40),
		"vmdk descriptor cut":    le64("backing.vmdk", 36, 100),
		"vpc dynamic offset":     be32("dynamic.vpc", 16, 0x7fffffff),
		"vpc disk type":          be32("dynamic.vpc", 60, 9),
		"vpc block size":         be32("dynamic.vpc", 512+32, 1000),
		"vdi version":            le32("x.vdi", 68, 0x00020000),
		"vdi block size":         le32("x.vdi", 0x178, 0),
		"qcow v1 cluster bits 0": func() []byte { b := readFile(t, "testdata/seeds/v1.qcow"); b[32] = 0; return b }(),
	}
	for name, img := range cases {
		t.Run(name, func(t *testing.T) {
			info, err := Probe(bytes.NewReader(img), int64(len(img)))
			if !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("Probe = %+v, %v; want ErrInvalidImage", info, err)
			}
		})
	}

	// A differencing VHD is recognised but refused.
	diff := be32("dynamic.vpc", 60, vpcDifferencing)
	if _, err := Probe(bytes.NewReader(diff), int64(len(diff))); !errors.Is(err, ErrUnsupported) {
		t.Errorf("differencing VHD: %v, want ErrUnsupported", err)
	}
}

// TestSeedsParse keeps the committed fuzz seeds meaningful: each still
// parses as the format its name says.
func TestSeedsParse(t *testing.T) {
	want := map[string]string{
		"v2.qcow2": FormatQcow2, "v3.qcow2": FormatQcow2, "datafile.qcow2": FormatQcow2,
		"extl2.qcow2": FormatQcow2, "v1.qcow": FormatQcow,
		"raw-backing.qed": FormatQED, "probe-backing.qed": FormatQED,
		"backing.vmdk": FormatVMDK, "stream.vmdk": FormatVMDK, "descriptor.vmdk": FormatVMDK,
		"dynamic.vpc": FormatVPC, "fixed.vpc": FormatVPC, "x.vdi": FormatVDI,
	}
	for name, format := range want {
		img := readFile(t, "testdata/seeds/"+name)
		info, err := Probe(bytes.NewReader(img), int64(len(img)))
		if err != nil || info.Format != format {
			t.Errorf("%s: Probe = %+v, %v; want %s", name, info, err, format)
		}
	}
}
