package integration

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenGraphicsFD asks for a guest's VNC display with
// virDomainOpenGraphicsFD from python-libvirt: govirtd hands QEMU one
// end of a socket pair (getfd, add_client) and passes the other to the
// client over the unix socket (REPLY_WITH_FDS, SCM_RIGHTS), which speaks
// RFB on it.
func TestOpenGraphicsFD(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	needQEMU(t)
	d := startClientsDaemon(t)
	startVNCGuest(t, d, "gfx")
	out, rc := runTool(t, time.Minute, nil, "/usr/bin/python3", "testdata/python/open_graphics_fd.py", d.URI("qemu"), "gfx")
	if rc != 0 || !strings.HasPrefix(out, "ok ") || !strings.Contains(out, "QEMU (gfx)") {
		t.Fatalf("open_graphics_fd.py: rc=%d\n%s\n%s", rc, out, d.Log())
	}
	// QEMU saw the client come in on the passed socket, not over TCP.
	if !strings.Contains(out, `"clients":[{"family":"unix"`) {
		t.Errorf("query-vnc during the session shows no unix client:\n%s", out)
	}
	// Refusals as libvirt words them.
	_, rc = runTool(t, time.Minute, nil, "/usr/bin/python3", "-c", `
import libvirt, sys
c = libvirt.open(sys.argv[1]); d = c.lookupByName("gfx")
try:
    d.openGraphicsFD(1, 0)
except libvirt.libvirtError as e:
    assert "No graphics backend with index 1" in str(e), str(e)
    sys.exit(3)
`, d.URI("qemu"))
	if rc != 3 {
		t.Errorf("openGraphicsFD(1) did not fail with libvirt's error (rc=%d)", rc)
	}
}

// TestVirtManagerConsole opens a guest's console in virt-manager under
// Xvfb over a local URI (qemu:///system?socket=...), for which
// virt-manager uses virDomainOpenGraphicsFD, and checks the screen shows
// the guest's display: QEMU reports a client on the passed socket and the
// console area of a screenshot is not one flat colour.
func TestVirtManagerConsole(t *testing.T) {
	needTool(t, "virt-manager", "virt-manager")
	needTool(t, "Xvfb", "xvfb")
	needTool(t, "xwd", "x11-apps")
	needQEMU(t)
	d := startClientsDaemon(t)
	startVNCGuest(t, d, "vmgr")

	display := startXvfb(t)
	home := t.TempDir()
	uri := "qemu:///system?socket=" + d.Socket // no transport: virt-manager sees a local connection
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vm := exec.CommandContext(ctx, "virt-manager", "--no-fork", "--debug", "--connect", uri, "--show-domain-console", "vmgr")
	logf, err := os.Create(filepath.Join(home, "virt-manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	vm.Stdout, vm.Stderr = logf, logf
	vm.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config",
		"XDG_CACHE_HOME="+home+"/.cache", "XDG_DATA_HOME="+home+"/.local/share", "GSETTINGS_BACKEND=memory",
		"NO_AT_BRIDGE=1", "LIBVIRT_DEFAULT_URI=", "DBUS_SESSION_BUS_ADDRESS=disabled:")
	if err := vm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Process.Kill(); vm.Wait() })
	vmLog := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }

	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(vncClients(t, d, "vmgr"), `"family":"unix"`) {
		if time.Now().After(deadline) {
			t.Fatalf("virt-manager never connected through OpenGraphicsFD\nvirt-manager:\n%s\ngovirtd:\n%s", vmLog(), d.Log())
		}
		time.Sleep(time.Second)
	}
	// Let the viewer draw what the guest shows (SeaBIOS's text on an
	// empty disk), then look at the screen below the toolbar.
	var colours, lit int
	for i := 0; i < 20; i++ {
		time.Sleep(time.Second)
		colours, lit = screenStats(t, display, 100)
		if colours > 1 && lit > 100 {
			return
		}
	}
	t.Fatalf("console area shows %d colour(s), %d non-black pixels: no guest display\nvirt-manager:\n%s", colours, lit, vmLog())
}

// startVNCGuest imports an empty disk with virt-install and a VNC
// display, so the guest stays on SeaBIOS's "No bootable device" screen.
func startVNCGuest(t *testing.T, d *daemon, name string) {
	t.Helper()
	needTool(t, "virt-install", "virtinst")
	disk := qcow2Disk(t, t.TempDir(), name+".qcow2")
	virtInstall(t, d, name, disk, "--osinfo", "linux2022", "--graphics", "vnc")
}

// vncClients is QEMU's query-vnc reply for a guest.
func vncClients(t *testing.T, d *daemon, name string) string {
	t.Helper()
	out, _, _ := virsh(t, d.URI("qemu"), "qemu-monitor-command", name, `{"execute":"query-vnc"}`)
	return out
}

// startXvfb runs a virtual X server on a free display (-displayfd) and
// returns its DISPLAY value; it is stopped (by pid) when the test ends.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { x.Process.Kill(); x.Wait() })
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			t.Fatal("Xvfb did not report a display")
		}
		return ":" + n
	case <-time.After(30 * time.Second):
		t.Fatal("Xvfb did not start")
	}
	return ""
}

// screenStats takes an xwd screenshot of display and returns how many
// distinct pixel values and how many non-black pixels lie below the top
// skip rows (virt-manager's menu and toolbar).
func screenStats(t *testing.T, display string, skip int) (colours, lit int) {
	t.Helper()
	out, err := exec.Command("xwd", "-root", "-silent", "-display", display).Output()
	if err != nil {
		t.Fatalf("xwd: %v", err)
	}
	img, err := parseXWD(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for y := skip; y < img.height; y++ {
		for x := 0; x < img.width; x++ {
			p := img.pixel(x, y)
			seen[p] = true
			if p&0xffffff != 0 {
				lit++
			}
		}
	}
	return len(seen), lit
}

// xwdImage is a 24/32-bit ZPixmap X window dump.
type xwdImage struct {
	width, height, bpl, bpp int
	data                    []byte
}

func (im *xwdImage) pixel(x, y int) uint32 {
	off := y*im.bpl + x*im.bpp/8
	var v uint32
	for i := 0; i < im.bpp/8; i++ {
		v = v<<8 | uint32(im.data[off+i])
	}
	return v
}

// parseXWD reads the XWD header (25 big-endian words, the window name,
// the colour map) and the pixels after it.
func parseXWD(b []byte) (*xwdImage, error) {
	if len(b) < 100 {
		return nil, fmt.Errorf("xwd: short file (%d bytes)", len(b))
	}
	word := func(i int) int { return int(binary.BigEndian.Uint32(b[i*4:])) }
	hdr, format, w, h := word(0), word(2), word(4), word(5)
	bpp, bpl, ncolors := word(11), word(12), word(19)
	if format != 2 || (bpp != 24 && bpp != 32) {
		return nil, fmt.Errorf("xwd: format %d with %d bits per pixel, want a 24/32-bit ZPixmap", format, bpp)
	}
	start := hdr + ncolors*12
	if start+h*bpl > len(b) {
		return nil, fmt.Errorf("xwd: %d bytes, need %d", len(b), start+h*bpl)
	}
	return &xwdImage{width: w, height: h, bpl: bpl, bpp: bpp, data: b[start:]}, nil
}
