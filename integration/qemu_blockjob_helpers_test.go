package integration

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// defineDiskGuest defines a guest whose first disk (vda) is image, a
// qcow2 file unless format says otherwise.
func defineDiskGuest(t *testing.T, d *daemon, name, image, format string) string {
	t.Helper()
	consoleSock := filepath.Join(d.dir, name+".console")
	disk := fmt.Sprintf(`<disk type='file' device='disk'>
      <driver name='qemu' type='%s'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
`, format, image)
	doc := strings.Replace(guestXML(t, name, consoleSock, ""), "<devices>\n", "<devices>\n    "+disk, 1)
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
	return consoleSock
}

func qemuImg(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// bootDiskGuest starts a defined guest and waits for its shell.
func bootDiskGuest(t *testing.T, d *daemon, name, sock string) *testguest.Console {
	t.Helper()
	mustVirsh(t, d.URI("qemu"), "start "+name)
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	return con
}

var (
	writeRe = regexp.MustCompile(`^GV-WRITE (\S+) ([0-9a-f]{32})$`)
	sumRe   = regexp.MustCompile(`^GV-SUM (\S+) ([0-9a-f]{32})$`)
)

// guestWrite has the guest write KiB of pattern seed to dev; it returns
// the md5 of what was written.
func guestWrite(t *testing.T, con *testguest.Console, dev string, seed, kib int) string {
	t.Helper()
	con.Send(fmt.Sprintf("gv-write %s %d %d", dev, seed, kib))
	m, err := con.ExpectRegexp(writeRe, 3*time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	return m[2]
}

func guestSum(t *testing.T, con *testguest.Console, dev string, kib int) string {
	t.Helper()
	con.Send(fmt.Sprintf("gv-sum %s %d", dev, kib))
	m, err := con.ExpectRegexp(sumRe, 3*time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	return m[2]
}

// chainLayer is one image of a disk's chain as the live XML shows it.
type chainLayer struct {
	Index int
	Path  string
}

type xmlSource struct {
	File  string `xml:"file,attr"`
	Index int    `xml:"index,attr"`
}

type xmlBacking struct {
	Type    string      `xml:"type,attr"`
	Index   int         `xml:"index,attr"`
	Source  xmlSource   `xml:"source"`
	Backing *xmlBacking `xml:"backingStore"`
}

type xmlDisk struct {
	Target struct {
		Dev string `xml:"dev,attr"`
	} `xml:"target"`
	Source  xmlSource   `xml:"source"`
	Backing *xmlBacking `xml:"backingStore"`
	Mirror  *struct {
		Job string `xml:"job,attr"`
	} `xml:"mirror"`
}

// liveChain parses dumpxml and returns the chain of target, top first.
func liveChain(t *testing.T, d *daemon, dom, target string) []chainLayer {
	t.Helper()
	out := mustVirsh(t, d.URI("qemu"), "dumpxml "+dom)
	if strings.Contains(out, "privateData") || strings.Contains(out, "nodename") {
		t.Errorf("dumpxml shows status-only privateData:\n%s", out)
	}
	var doc struct {
		Disks []xmlDisk `xml:"devices>disk"`
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, dk := range doc.Disks {
		if dk.Target.Dev != target {
			continue
		}
		chain := []chainLayer{{dk.Source.Index, dk.Source.File}}
		b := dk.Backing
		for b != nil && b.Type != "" {
			chain = append(chain, chainLayer{b.Index, b.Source.File})
			b = b.Backing
		}
		if b == nil {
			t.Errorf("chain of %s is not terminated by <backingStore/>:\n%s", target, out)
		}
		return chain
	}
	t.Fatalf("no disk %s in\n%s", target, out)
	return nil
}

// checkChain compares a chain with the expected paths and checks that
// every image has a distinct index and that vda[N] resolves to it.
func checkChain(t *testing.T, d *daemon, dom string, got []chainLayer, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("chain %+v, want paths %v", got, want)
	}
	seen := map[int]bool{}
	for i, l := range got {
		if l.Path != want[i] {
			t.Errorf("layer %d: %s, want %s (chain %+v)", i, l.Path, want[i], got)
		}
		if l.Index <= 0 || seen[l.Index] {
			t.Errorf("layer %d has index %d (chain %+v)", i, l.Index, got)
		}
		seen[l.Index] = true
		// domblkinfo resolves vda[N] to exactly that image: its physical
		// size must be the file's.
		out := mustVirsh(t, d.URI("qemu"), fmt.Sprintf("domblkinfo %s vda[%d]", dom, l.Index))
		fi, err := os.Stat(l.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, fmt.Sprintf("Physical:       %d", fi.Size())) {
			t.Errorf("domblkinfo vda[%d] (%s, %d bytes):\n%s", l.Index, l.Path, fi.Size(), out)
		}
	}
}

// dropBackingFormat turns a qcow2 image's backing format header extension
// into an unknown one, making an image whose backing format is not
// declared, which qemu-img no longer creates.
func dropBackingFormat(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data[:4096], []byte{0xe2, 0x79, 0x2a, 0xca})
	if i < 0 {
		t.Fatalf("%s has no backing format extension", path)
	}
	copy(data[i:], []byte{0x12, 0x34, 0x56, 0x78})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
