package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// spicePortRe finds the SPICE port in the live XML.
var spicePortRe = regexp.MustCompile(`<graphics type='spice'[^>]* port='(\d+)'`)

// spiceGuestXML is a q35 guest with a SPICE display on an allocated
// port, a qxl video and the ICH9's HDA sound card.
func spiceGuestXML(t *testing.T, name, graphicsAttrs string) string {
	return testGuestXML(t, name, "", fmt.Sprintf(`    <graphics type='spice' autoport='yes'%s>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <sound model='ich9'/>
    <video>
      <model type='qxl'/>
    </video>
`, graphicsAttrs))
}

// TestQemuSpiceAutoportSound: guests with SPICE autoport and a sound card
// start under TCG with ports from the display range (distinct per guest,
// recorded in the live XML, shown by domdisplay as spice:// URIs, and
// answered by QEMU); the live XML gains the SPICE audio backend libvirt
// adds, which the sound card plays into; a password goes to QEMU over
// the monitor.
func TestQemuSpiceAutoportSound(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	for _, g := range []struct{ name, attrs string }{{"s1", ""}, {"s2", " passwd='s3cret'"}} {
		path := filepath.Join(t.TempDir(), g.name+".xml")
		if err := os.WriteFile(path, []byte(spiceGuestXML(t, g.name, g.attrs)), 0o644); err != nil {
			t.Fatal(err)
		}
		mustVirsh(t, uri, "define "+path)
		mustVirsh(t, uri, "start "+g.name)
	}
	ports := map[string]int{}
	for _, name := range []string{"s1", "s2"} {
		xml := mustVirsh(t, uri, "dumpxml "+name)
		m := spicePortRe.FindStringSubmatch(xml)
		if m == nil {
			t.Fatalf("%s: live XML lacks the SPICE port:\n%s", name, xml)
		}
		port, _ := strconv.Atoi(m[1])
		if port < 5900 || port > 65535 {
			t.Fatalf("%s: SPICE port %d out of range", name, port)
		}
		ports[name] = port
		for _, want := range []string{"<audio id='1' type='spice'/>", "<sound model='ich9'>", "<alias name='sound0'/>"} {
			if !strings.Contains(xml, want) {
				t.Errorf("%s: live XML lacks %s:\n%s", name, want, xml)
			}
		}
		if out, want := strings.TrimSpace(mustVirsh(t, uri, "domdisplay "+name)), fmt.Sprintf("spice://127.0.0.1:%d", port); out != want {
			t.Errorf("%s: domdisplay = %q, want %q", name, out, want)
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
		if err != nil {
			t.Errorf("%s: SPICE port %d: %v", name, port, err)
		} else {
			c.Close()
		}
	}
	if ports["s1"] == ports["s2"] {
		t.Fatalf("both guests got SPICE port %d", ports["s1"])
	}
	if xml := mustVirsh(t, uri, "dumpxml --security-info s2"); !strings.Contains(xml, "passwd='s3cret'") {
		t.Errorf("dumpxml --security-info lacks the SPICE password:\n%s", xml)
	}
	// The ports come back when the guests stop.
	mustVirsh(t, uri, "destroy s1")
	mustVirsh(t, uri, "destroy s2")
	mustVirsh(t, uri, "start s2")
	if m := spicePortRe.FindStringSubmatch(mustVirsh(t, uri, "dumpxml s2")); m == nil || m[1] != strconv.Itoa(min(ports["s1"], ports["s2"])) {
		t.Errorf("after both stopped, s2 got port %v, want the lowest (%d)", m, min(ports["s1"], ports["s2"]))
	}
}
