package integration

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vncSecurityTypes connects to a VNC server, checks the RFB banner and
// returns the security types it offers (1 none, 2 VNC password).
func vncSecurityTypes(t *testing.T, port int) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatalf("VNC port %d: %v", port, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	banner := make([]byte, 12)
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "RFB 003.008\n" {
		t.Fatalf("VNC banner on %d: %q %v", port, banner, err)
	}
	if _, err := c.Write(banner); err != nil {
		t.Fatal(err)
	}
	n := make([]byte, 1)
	if _, err := io.ReadFull(c, n); err != nil || n[0] == 0 {
		t.Fatalf("VNC security types on %d: %v %v", port, n, err)
	}
	types := make([]byte, n[0])
	if _, err := io.ReadFull(c, types); err != nil {
		t.Fatal(err)
	}
	return types
}

// vncPortRe finds the port in the live XML. Attribute order is conf's
// business (libvirt writes type, port, autoport, listen); only presence
// is checked here.
var vncPortRe = regexp.MustCompile(`<graphics type='vnc'[^>]* port='(\d+)'`)

// TestQemuVNC: autoport gives each guest its own port, recorded in the
// live XML and printed by vncdisplay/domdisplay; QEMU answers RFB on it;
// a password turns on VNC authentication; screenshot streams an image.
func TestQemuVNC(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	definePTYGuest(t, d, "v1", "")
	definePTYGuest(t, d, "v2", " passwd='s3cret'")
	mustVirsh(t, uri, "start v1")
	mustVirsh(t, uri, "start v2")

	ports := map[string]int{}
	for _, name := range []string{"v1", "v2"} {
		xml := mustVirsh(t, uri, "dumpxml "+name)
		m := vncPortRe.FindStringSubmatch(xml)
		if m == nil {
			t.Fatalf("%s: live XML lacks the VNC port:\n%s", name, xml)
		}
		port, _ := strconv.Atoi(m[1])
		if port < 5900 || port > 65535 {
			t.Fatalf("%s: VNC port %d out of range", name, port)
		}
		ports[name] = port
		if strings.Contains(xml, "s3cret") {
			t.Errorf("%s: dumpxml without --security-info shows the password", name)
		}
		want := "127.0.0.1:" + strconv.Itoa(port-5900)
		if out := strings.TrimSpace(mustVirsh(t, uri, "vncdisplay "+name)); out != want {
			t.Errorf("%s: vncdisplay = %q, want %q", name, out, want)
		}
		if out := strings.TrimSpace(mustVirsh(t, uri, "domdisplay "+name)); out != "vnc://"+want {
			t.Errorf("%s: domdisplay = %q, want %q", name, out, "vnc://"+want)
		}
	}
	if ports["v1"] == ports["v2"] {
		t.Fatalf("both guests got VNC port %d", ports["v1"])
	}
	if types := vncSecurityTypes(t, ports["v1"]); !bytes.Equal(types, []byte{1}) {
		t.Errorf("v1 (no password) offers security types %v, want [1]", types)
	}
	if types := vncSecurityTypes(t, ports["v2"]); !bytes.Equal(types, []byte{2}) {
		t.Errorf("v2 (password) offers security types %v, want [2]", types)
	}
	if xml := mustVirsh(t, uri, "dumpxml --security-info v2"); !strings.Contains(xml, "passwd='s3cret'") {
		t.Errorf("dumpxml --security-info lacks the password:\n%s", xml)
	}

	file := filepath.Join(t.TempDir(), "shot")
	out := mustVirsh(t, uri, "screenshot v1 "+file)
	img, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.Contains(out, "image/png"):
		if !bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("screenshot is not a PNG: %q", img[:min(len(img), 16)])
		}
	case strings.Contains(out, "image/x-portable-pixmap"):
		if !bytes.HasPrefix(img, []byte("P6\n")) {
			t.Errorf("screenshot is not a PPM: %q", img[:min(len(img), 16)])
		}
	default:
		t.Errorf("screenshot: %s", out)
	}
	if len(img) < 100 {
		t.Errorf("screenshot has %d bytes", len(img))
	}
	if !strings.Contains(out, "Screenshot saved to "+file) {
		t.Errorf("screenshot output: %q", out)
	}

	// Ports come back when guests stop: v1's port is free for the next start.
	mustVirsh(t, uri, "destroy v1")
	mustVirsh(t, uri, "destroy v2")
	mustVirsh(t, uri, "start v2")
	if m := vncPortRe.FindStringSubmatch(mustVirsh(t, uri, "dumpxml v2")); m == nil || m[1] != strconv.Itoa(min(ports["v1"], ports["v2"])) {
		t.Errorf("after both stopped, v2 got port %v, want the lowest (%d)", m, min(ports["v1"], ports["v2"]))
	}
}
