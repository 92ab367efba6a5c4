package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// boundedReader fails the test if a parser asks for a read larger than the
// package's allocation bound: every read buffer is allocated by the parser,
// so this is the bound on memory a hostile header can cause.
type boundedReader struct {
	t *testing.T
	r *bytes.Reader
}

func (b boundedReader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > maxDescriptor {
		b.t.Fatalf("read of %d bytes at %d exceeds the %d-byte bound", len(p), off, maxDescriptor)
	}
	return b.r.ReadAt(p, off)
}

// addSeeds adds the committed qemu-img seeds whose names end in suffix
// (all of them for ""), each with the true size and with a size claiming
// more than the data holds.
func addSeeds(f *testing.F, suffix string) {
	entries, err := os.ReadDir("testdata/seeds")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), suffix) {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata/seeds", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(0))
		f.Add(data, uint16(4096))
	}
}

// fuzzProbe probes data both ways: by signature, and declared as format.
// Neither may panic, read unboundedly, or return nonsense on success.
func fuzzProbe(t *testing.T, data []byte, extra uint16, format string) {
	size := int64(len(data)) + int64(extra)
	r := boundedReader{t, bytes.NewReader(data)}
	check := func(info *ImageInfo, err error) {
		if err != nil {
			return
		}
		if !KnownFormat(info.Format) {
			t.Fatalf("success with unknown format %q", info.Format)
		}
		if len(info.BackingFile) > maxPathName || len(info.DataFile) > maxPathName ||
			len(info.BackingFormat) > maxPathName {
			t.Fatalf("oversized names in %+v", info)
		}
		if info.Format != FormatRaw && info.VirtualSize > 1<<63-1 {
			t.Fatalf("virtual size %d overflows int64", info.VirtualSize)
		}
		if info.BackingFile == "" && info.BackingFormat != "" {
			t.Fatalf("backing format %q without a backing file", info.BackingFormat)
		}
	}
	check(Probe(r, size))
	if format != "" {
		check(ProbeAs(r, size, format))
	}
}

func FuzzProbe(f *testing.F) {
	addSeeds(f, "")
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, extra uint16) { fuzzProbe(t, data, extra, "") })
}

func FuzzProbeQcow2(f *testing.F) {
	addSeeds(f, ".qcow2")
	addSeeds(f, ".qcow")
	f.Fuzz(func(t *testing.T, data []byte, extra uint16) {
		fuzzProbe(t, data, extra, FormatQcow2)
		fuzzProbe(t, data, extra, FormatQcow)
	})
}

func FuzzProbeQED(f *testing.F) {
	addSeeds(f, ".qed")
	f.Fuzz(func(t *testing.T, data []byte, extra uint16) { fuzzProbe(t, data, extra, FormatQED) })
}

func FuzzProbeVMDK(f *testing.F) {
	addSeeds(f, ".vmdk")
	f.Add([]byte(vmdkDescMagic+"\nparentFileNameHint=\"p\nRW 99999999999999999999 FLAT \"x\" 0\n"), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, extra uint16) { fuzzProbe(t, data, extra, FormatVMDK) })
}

func FuzzProbeVPC(f *testing.F) {
	addSeeds(f, ".vpc")
	f.Fuzz(func(t *testing.T, data []byte, extra uint16) { fuzzProbe(t, data, extra, FormatVPC) })
}

func FuzzProbeVDI(f *testing.F) {
	addSeeds(f, ".vdi")
	f.Fuzz(func(t *testing.T, data []byte, extra uint16) { fuzzProbe(t, data, extra, FormatVDI) })
}
