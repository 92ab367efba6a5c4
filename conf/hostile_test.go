package conf

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"govirt/virerr"
)

// nestedMetadata is a domain whose <metadata> holds depth nested elements.
func nestedMetadata(depth int) string {
	return "<domain type='test'><name>deep</name><memory>1024</memory><os><type>hvm</type></os><metadata>" +
		strings.Repeat("<a>", depth) + strings.Repeat("</a>", depth) + "</metadata></domain>\n"
}

// manyAttrs is a domain whose metadata element carries n attributes.
func manyAttrs(n int) string {
	var b strings.Builder
	b.WriteString("<domain type='test'><name>attrs</name><memory>1024</memory><metadata><m:x xmlns:m='urn:m'")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " a%d='v'", i)
	}
	b.WriteString("/></metadata></domain>")
	return b.String()
}

// libxml2 (and so libvirt) accepts 257 nested elements and refuses the
// 258th with this message, pointing at its '<'.
func TestDepthLimit(t *testing.T) {
	if _, err := ParseDomain([]byte(nestedMetadata(255)), ParseValidate); err != nil {
		t.Fatalf("257 levels refused: %v", err)
	}
	doc := nestedMetadata(256)
	_, err := ParseDomain([]byte(doc), ParseValidate)
	var ve *virerr.Error
	if !errors.As(err, &ve) || ve.Code != virerr.ErrXMLDetail || ve.Domain != virerr.FromDomain {
		t.Fatalf("258 levels: %v", err)
	}
	col := strings.Index(doc, "<metadata>") + len("<metadata>") + 255*3
	want := "(domain_definition):1: Excessive depth in document: 256 use XML_PARSE_HUGE option\n" +
		strings.TrimSuffix(doc, "\n") + "\n" + strings.Repeat("-", col) + "^"
	if ve.Message != want {
		t.Fatalf("message:\n%q\nwant\n%q", ve.Message, want)
	}
}

func TestDepthLimitEveryParser(t *testing.T) {
	deep := strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300)
	for _, c := range []struct {
		doc   string
		parse func([]byte) error
		name  string
	}{
		{"<network><name>n</name>" + deep + "</network>", func(b []byte) error { _, err := ParseNetwork(b, 0); return err }, "(network_definition)"},
		{"<pool type='dir'><name>p</name>" + deep + "</pool>", func(b []byte) error { _, err := ParseStoragePool(b, 0); return err }, "(storage_pool_definition)"},
		{"<volume><name>v</name>" + deep + "</volume>", func(b []byte) error { _, err := ParseStorageVolume(b, 0); return err }, "(storage_volume_definition)"},
		{"<domainsnapshot>" + deep + "</domainsnapshot>", func(b []byte) error { _, err := ParseDomainSnapshot(b, 0); return err }, "(domain_snapshot)"},
		{"<interface>" + deep + "</interface>", func(b []byte) error { _, err := ParseHostInterface(b, 0); return err }, "(interface_definition)"},
		{"<disk>" + deep + "</disk>", func(b []byte) error { _, err := ParseDevice(b); return err }, "(device_definition)"},
		{"<node>" + deep + "</node>", func(b []byte) error { _, err := ParseElement(b, virerr.FromXML); return err }, "at line 1"},
	} {
		err := c.parse([]byte(c.doc))
		if err == nil || !strings.HasPrefix(err.Error(), c.name) && !strings.Contains(err.Error(), c.name+":") {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "Excessive depth in document: 256") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// Each hostile shape must be handled in time and memory linear in its
// size: these took seconds and hundreds of megabytes (or never finished)
// when the tree's costs grew with depth × size or attributes². The test
// compares a shape at n and 8n rather than against a clock, so a loaded
// machine cannot fail it: linear work grows about 8×, quadratic 64×.
// Bytes allocated are counted always; time only without the race
// detector, whose own costs grow with the heap.
func TestHostileDocumentsAreCheap(t *testing.T) {
	chain := strings.Repeat("<m:a>", 250) + strings.Repeat("</m:a>", 250)
	for name, shape := range map[string]func(n int) string{
		"deep":  func(n int) string { return nestedMetadata(2000 * n) },
		"attrs": func(n int) string { return manyAttrs(10000 * n) },
		"cdata pieces": func(n int) string {
			return "<domain><name>c</name><description>" + strings.Repeat("x<![CDATA[y]]>", 25000*n) + "</description></domain>"
		},
		"wide": func(n int) string {
			return "<domain><name>w</name><metadata><m:r xmlns:m='urn:m'>" + strings.Repeat("<m:a/>", 25000*n) + "</m:r></metadata></domain>"
		},
		"deep chains": func(n int) string {
			return "<domain><name>c</name><metadata><m:r xmlns:m='urn:m'>" + strings.Repeat(chain, 60*n) + "</m:r></metadata></domain>"
		},
	} {
		st, sb := hostileCost(t, name, shape(1))
		lt, lb := hostileCost(t, name, shape(8))
		t.Logf("%s: %v and %d bytes at n, %v and %d bytes at 8n", name, st, sb, lt, lb)
		if lb > 16*sb && lb > 64<<20 {
			t.Errorf("%s: %d bytes allocated at n but %d at 8n: not linear", name, sb, lb)
		}
		// Wall time is noisy on a loaded machine: a quadratic cost shows
		// in every measurement, a scheduling hiccup not in three pairs.
		for try := 0; !raceEnabled && lt > 24*st && lt > 200*time.Millisecond; try++ {
			if try == 2 {
				t.Errorf("%s: %v at n but %v at 8n: not linear", name, st, lt)
				break
			}
			st, _ = hostileCost(t, name, shape(1))
			lt, _ = hostileCost(t, name, shape(8))
		}
	}
}

// hostileCost is the best time of three parse, format and walk runs of
// doc, and the bytes one run allocates.
func hostileCost(t *testing.T, name, doc string) (time.Duration, uint64) {
	best, bytes := time.Duration(1<<62), uint64(0)
	for i := 0; i < 3; i++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		d, err := ParseDomain([]byte(doc), ParseValidate)
		if err == nil {
			out, ferr := d.Format(FormatSecure)
			if ferr != nil {
				t.Fatalf("%s: format: %v", name, ferr)
			}
			if len(out) > 20*len(doc)+4096 {
				t.Errorf("%s: %d bytes in, %d out", name, len(doc), len(out))
			}
			d.ElementPaths()
		}
		best = min(best, time.Since(start))
		runtime.ReadMemStats(&after)
		bytes = after.TotalAlloc - before.TotalAlloc
	}
	return best, bytes
}

// Indentation stops growing past libxml2's 60 columns.
func TestIndentationCap(t *testing.T) {
	d, err := ParseDomain([]byte(nestedMetadata(40)), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := d.Format(0)
	for _, l := range strings.Split(string(out), "\n") {
		if n := len(l) - len(strings.TrimLeft(l, " ")); n > 60 {
			t.Fatalf("indented %d: %q", n, l)
		}
	}
	if !strings.Contains(string(out), "\n"+strings.Repeat(" ", 60)+"<a>\n") {
		t.Fatalf("deep levels not at 60 columns:\n%s", out)
	}
}

func TestDuplicateAttribute(t *testing.T) {
	for _, n := range []int{2, 50} {
		doc := strings.Replace(manyAttrs(n), "/></metadata>", " a0='w'/></metadata>", 1)
		_, err := ParseDomain([]byte(doc), 0)
		if err == nil || !strings.Contains(err.Error(), "Attribute a0 redefined") {
			t.Fatalf("%d attributes: %v", n, err)
		}
	}
}

// Names become file names: libvirt refuses '/' in domain, network and
// pool names (volumes and snapshots are checked by the drivers) and
// accepts "." and "..", which the drivers' paths must then cope with.
func TestNamesWithSlash(t *testing.T) {
	_, err := ParseDomain([]byte("<domain><name>../../x</name></domain>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLError, "name ../../x cannot contain '/'")
	_, err = ParseDomain([]byte("<domain><name></name></domain>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrNoName, "missing name information")
	for _, ok := range []string{"..", ".", " "} {
		if _, err := ParseDomain([]byte("<domain><name>"+ok+"</name></domain>"), 0); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	_, err = ParseNetwork([]byte("<network><name>a/b</name></network>"), 0)
	wantCode(t, err, virerr.FromXML, virerr.ErrXMLDetail, "invalid char in name: /")
	_, err = ParseStoragePool([]byte("<pool type='dir'><name>a/b</name><target><path>/x</path></target></pool>"), 0)
	wantCode(t, err, virerr.FromStorage, virerr.ErrXMLError, "name a/b cannot contain '/'")
}

// Literal whitespace in an attribute value reads as a space (libxml2's
// attribute normalisation); a character reference keeps its character.
func TestAttributeNormalisation(t *testing.T) {
	doc := "<domain type='qemu'><name>n</name><metadata><m:x xmlns:m='urn:m'\n a='1\n2\t3\r\n4'\tb=\"x&#10;y&amp;&lt;\" c='plain' d='p&#x9;q\nr'/></metadata></domain>"
	d, err := ParseDomain([]byte(doc), 0)
	if err != nil {
		t.Fatal(err)
	}
	x := d.x.child("metadata").elems()[0]
	for name, want := range map[string]string{"a": "1 2 3 4", "b": "x\ny&<", "c": "plain", "d": "p\tq r", "xmlns:m": "urn:m"} {
		if got := x.attr(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
