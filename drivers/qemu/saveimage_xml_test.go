package qemu

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/virerr"
)

const imgXML = `<domain type='qemu'><name>img</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>` +
	`<memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`

// readBack returns the header and what follows it (the stream).
func readBack(t *testing.T, path string) (*saveHeader, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := readSaveImage(f)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(f)
	return h, string(rest)
}

// save-image-define rewrites the header in place: the stream behind it
// stays where it was, the flag of a version 2 header follows --paused,
// an ABI change is refused and a version 1 image (no room) takes only
// an XML that fits.
func TestDefineImageXML(t *testing.T) {
	dir := t.TempDir()
	d := New(Config{StateDir: filepath.Join(dir, "state"), RunDir: filepath.Join(dir, "run"), Emulator: filepath.Join(dir, "none")})
	path := filepath.Join(dir, "v2.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSaveHeader(f, []byte(imgXML), true); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("STREAM"))
	f.WriteAt(saveMagic, 0)
	f.Close()

	titled := strings.Replace(imgXML, "<name>img</name>", "<name>img</name><title>"+strings.Repeat("t", 1000)+"</title>", 1)
	if err := d.defineImageXML(path, titled, savePaused); err != nil {
		t.Fatal(err)
	}
	h, rest := readBack(t, path)
	if h.wasRunning || !strings.Contains(string(h.xml), "<title>ttt") || rest != "STREAM" {
		t.Errorf("after define --paused: running %v, stream %q, xml %s", h.wasRunning, rest, h.xml)
	}
	bigger := strings.Replace(imgXML, "65536", "131072", 1)
	err = d.defineImageXML(path, bigger, 0)
	if e := virerr.From(err); e == nil || e.Code != virerr.ErrConfigUnsupported || e.Message != "unsupported configuration: Target domain max memory 131072 does not match source 65536" {
		t.Errorf("ABI change: %v", err)
	}

	// Version 1: magic, version, length, XML, stream.
	v1 := filepath.Join(dir, "v1.img")
	var b bytes.Buffer
	b.Write(saveMagic)
	binary.Write(&b, binary.BigEndian, uint32(1))
	binary.Write(&b, binary.BigEndian, uint32(len(titled)))
	b.WriteString(titled)
	b.WriteString("STREAM")
	if err := os.WriteFile(v1, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	h, rest = readBack(t, v1)
	if !h.wasRunning || rest != "STREAM" {
		t.Fatalf("version 1 image: running %v, stream %q", h.wasRunning, rest)
	}
	if err := d.defineImageXML(v1, imgXML, 0); err != nil {
		t.Fatal(err)
	}
	h, rest = readBack(t, v1)
	if strings.Contains(string(h.xml), "<title>") || rest != "STREAM" {
		t.Errorf("version 1 after a shorter XML: stream %q, xml %s", rest, h.xml)
	}
	huge := strings.Replace(imgXML, "<name>img</name>", "<name>img</name><title>"+strings.Repeat("t", 5000)+"</title>", 1)
	err = d.defineImageXML(v1, huge, 0)
	if e := virerr.From(err); e == nil || e.Message != "operation failed: new xml too large to fit in file" {
		t.Errorf("too large for a version 1 image: %v", err)
	}
}
