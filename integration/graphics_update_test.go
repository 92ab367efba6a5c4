package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestQemuGraphicsUpdate: virsh update-device changes a running VNC
// display's password over the monitor (the display keeps asking for one)
// and the persistent one with --config; changing the port is refused
// with libvirt's error.
func TestQemuGraphicsUpdate(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	definePTYGuest(t, d, "u1", " passwd='one'")
	mustVirsh(t, uri, "start u1")
	m := vncPortRe.FindStringSubmatch(mustVirsh(t, uri, "dumpxml u1"))
	if m == nil {
		t.Fatal("no VNC port in the live XML")
	}
	port, _ := strconv.Atoi(m[1])
	dir := t.TempDir()
	update := func(name, attrs string) string {
		path := filepath.Join(dir, name)
		xml := fmt.Sprintf("<graphics type='vnc' port='%d' autoport='yes' listen='127.0.0.1'%s>\n  <listen type='address' address='127.0.0.1'/>\n</graphics>\n", port, attrs)
		if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mustVirsh(t, uri, "update-device u1 "+update("two.xml", " passwd='two'")+" --live")
	if xml := mustVirsh(t, uri, "dumpxml --security-info u1"); !strings.Contains(xml, "passwd='two'") {
		t.Errorf("live XML lacks the new password:\n%s", xml)
	}
	if types := vncSecurityTypes(t, port); len(types) != 1 || types[0] != 2 {
		t.Errorf("after the update VNC offers security types %v, want [2]", types)
	}
	mustVirsh(t, uri, "update-device u1 "+update("three.xml", " passwd='three'")+" --config")
	if xml := mustVirsh(t, uri, "dumpxml --inactive --security-info u1"); !strings.Contains(xml, "passwd='three'") {
		t.Errorf("persistent XML lacks the new password:\n%s", xml)
	}
	path := filepath.Join(dir, "port.xml")
	os.WriteFile(path, []byte(fmt.Sprintf("<graphics type='vnc' port='%d' autoport='no' listen='127.0.0.1' passwd='x'>\n  <listen type='address' address='127.0.0.1'/>\n</graphics>\n", port+1)), 0o644)
	_, stderr, code := virsh(t, uri, "update-device", "u1", path, "--live")
	if code == 0 || !strings.Contains(stderr, "cannot change port settings on vnc graphics") {
		t.Errorf("port change: exit %d, %s", code, stderr)
	}
}
