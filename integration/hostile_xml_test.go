package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func deepDomain(typ, name string, depth int) string {
	return fmt.Sprintf("<domain type='%s'><name>%s</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><metadata>", typ, name) +
		strings.Repeat("<a>", depth) + strings.Repeat("</a>", depth) + "</metadata></domain>\n"
}

func attrsDomain(typ, name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<domain type='%s'><name>%s</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><metadata><m:x xmlns:m='urn:m'", typ, name)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " a%d='v'", i)
	}
	b.WriteString("/></metadata></domain>\n")
	return b.String()
}

// TestHostileXMLDepthAndSize defines, through virsh, documents that cost
// govirtd quadratic time and memory: 8,000 and 100,000 nested elements in
// <metadata> are refused with libvirt's libxml2 error, 80,000 attributes
// are accepted; each quickly and without growing the daemon.
func TestHostileXMLDepthAndSize(t *testing.T) {
	d := startDaemonNoRace(t) // RSS is measured: the race detector multiplies it
	dir := t.TempDir()
	for _, drv := range []string{"test", "qemu"} {
		typ := "test"
		if drv == "qemu" {
			typ = "qemu"
		}
		for _, c := range []struct {
			name, doc string
			refused   bool
		}{
			{"deep8k", deepDomain(typ, "deep8k", 8000), true},
			{"deep100k", deepDomain(typ, "deep100k", 100000), true},
			{"deep255", deepDomain(typ, "deep255", 255), false},
			{"attrs80k", attrsDomain(typ, "attrs80k", 80000), false},
		} {
			path := filepath.Join(dir, drv+c.name+".xml")
			if err := os.WriteFile(path, []byte(c.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			// The define alone is timed (virsh's own start-up included).
			before := daemonRSS(t, d) >> 10
			start := time.Now()
			out, errOut, rc := virsh(t, d.URI(drv), "define "+path)
			took := time.Since(start)
			grew := daemonRSS(t, d)>>10 - before
			t.Logf("%s %s: %v, RSS +%d KiB", drv, c.name, took, grew)
			if c.refused {
				if rc == 0 || !strings.Contains(errOut, "error: (domain_definition):1: Excessive depth in document: 256 use XML_PARSE_HUGE option") {
					t.Errorf("%s %s: rc=%d %q %.300q", drv, c.name, rc, out, errOut)
				}
			} else if rc != 0 {
				t.Errorf("%s %s: rc=%d %q %.300q", drv, c.name, rc, out, errOut)
			}
			if took > 5*time.Second {
				// Linearity itself is proven in conf's tests without a
				// clock; this only catches the old costs (12 s of CPU for
				// 80,000 attributes, unbounded for depth). One slow run on
				// a shared machine is retried with the same document.
				start = time.Now()
				virsh(t, d.URI(drv), "define "+path)
				if again := time.Since(start); again > 5*time.Second {
					t.Errorf("%s %s: define took %v, then %v", drv, c.name, took, again)
				}
			}
			if grew > 50*1024 {
				t.Errorf("%s %s: RSS grew %d KiB", drv, c.name, grew)
			}
			if !c.refused {
				// The document comes back whole. One session: the test
				// driver's state lives as long as the connection, as in
				// libvirt.
				out, errOut, rc := virsh(t, d.URI(drv), "define "+path+"; dumpxml "+c.name+"; undefine "+c.name)
				if rc != 0 || !strings.Contains(out, "<a/>") && !strings.Contains(out, "a79999='v'") && !strings.Contains(out, `a79999="v"`) {
					t.Errorf("%s %s: rc=%d %.300q %q", drv, c.name, rc, out, errOut)
				}
			}
		}
	}
	if out, _, rc := virsh(t, d.URI("test"), "list --all --name"); rc != 0 || !strings.Contains(out, "test") {
		t.Errorf("daemon stopped serving: rc=%d %q", rc, out)
	}
}
