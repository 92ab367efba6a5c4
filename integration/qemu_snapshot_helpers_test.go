package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"testing"
)

// configChain is the chain of target in the persistent definition, top
// first: only what the XML spells out.
func configChain(t *testing.T, d *daemon, dom, target string) []string {
	t.Helper()
	out := mustVirsh(t, d.URI("qemu"), "dumpxml --inactive "+dom)
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
		chain := []string{dk.Source.File}
		for b := dk.Backing; b != nil && b.Type != ""; b = b.Backing {
			chain = append(chain, b.Source.File)
		}
		return chain
	}
	t.Fatalf("no disk %s in\n%s", target, out)
	return nil
}

// wantErr runs a virsh command that must fail with msg in its error.
func wantErr(t *testing.T, uri, cmd, msg string) {
	t.Helper()
	out, errOut, rc := virsh(t, uri, cmd)
	if rc == 0 || !strings.Contains(errOut, msg) {
		t.Errorf("virsh %s: rc=%d, want error %q\n%s%s", cmd, rc, msg, out, errOut)
	}
}

// snapNames is snapshot-list --name, sorted as virsh prints it.
func snapNames(t *testing.T, uri, dom string, flags ...string) string {
	t.Helper()
	out := mustVirsh(t, uri, "snapshot-list "+dom+" --name "+strings.Join(flags, " "))
	return strings.Join(strings.Fields(out), " ")
}

// backingOf is the backing file qemu-img reads from an image's header.
func backingOf(t *testing.T, image string) string {
	t.Helper()
	out := qemuImg(t, "info", "-U", "--output=json", image)
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, `"backing-filename": "`); ok {
			return strings.TrimSuffix(v, `",`)
		}
	}
	return ""
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s still exists", path)
	}
}

func mustExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

func chainPaths(c []chainLayer) string {
	var s []string
	for _, l := range c {
		s = append(s, fmt.Sprintf("%s[%d]", l.Path, l.Index))
	}
	return strings.Join(s, " ")
}

// layered is the md5 of the first kib KiB of a disk that was zero and
// then got each gv-write {seed, KiB} in turn, all at offset 0.
func layered(kib int, writes ...[2]int) string {
	disk := make([]byte, kib<<10)
	for _, w := range writes {
		unit := []byte(fmt.Sprintf("GOVIRT-PATTERN-%d-\n", w[0]))
		n := min(w[1]<<10, len(disk))
		p := bytes.Repeat(unit, n/len(unit)+1)[:n]
		copy(disk, p)
	}
	return fmt.Sprintf("%x", md5.Sum(disk))
}
