package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// lvGuest boots a guest on govirtd for a migration to and from libvirtd
// 9.0: a qcow2 disk in dir (extra devices after it) and its console on
// a socket in dir. The guest is removed from libvirtd whatever happens.
func lvGuest(t *testing.T, d *daemon, name, dir, extra string) (image, sock string, con *testguest.Console) {
	t.Helper()
	t.Cleanup(func() {
		virsh(t, libvirtdURI, "destroy", name)
		virsh(t, libvirtdURI, "undefine", name)
	})
	image = filepath.Join(dir, "disk.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	sock = filepath.Join(dir, "con0")
	doc := migrateGuestXML(t, name, image, sock)
	doc = strings.Replace(doc, "</disk>\n", "</disk>\n"+extra, 1)
	mustVirsh(t, d.URI("qemu"), "create "+writeXML(t, name, doc))
	con = console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	return image, sock, con
}

// lvMove migrates name from fromURI to toURI with virsh (its console on
// next, the disk path rewritten from oldDisk to newDisk when set) and
// checks it runs on the destination only.
func lvMove(t *testing.T, d *daemon, fromURI, toURI, name, flags, sock, next, oldDisk, newDisk string) {
	t.Helper()
	doc, errOut, rc := virsh(t, fromURI, "dumpxml --migratable "+name)
	if rc != 0 {
		t.Fatalf("dumpxml: %s", errOut)
	}
	doc = strings.Replace(doc, sock, next, 1)
	if newDisk != "" {
		doc = strings.Replace(doc, oldDisk, newDisk, 1)
	}
	path := writeXML(t, filepath.Base(next)+"-dest", doc)
	cmd := fmt.Sprintf("migrate --live %s %s %s --xml %s --migrateuri tcp://127.0.0.1:%d", flags, name, toURI, path, freePort(t))
	out, errOut, rc := virsh(t, fromURI, cmd)
	if rc != 0 {
		t.Fatalf("virsh %s: rc=%d %s%s\ngovirtd:\n%s", cmd, rc, out, errOut, tail(d.Log(), 3000))
	}
	st := libvirtdState(t, name)
	if toURI != libvirtdURI {
		st = domState(t, d, name)
	}
	if st != "running (migrated)" {
		t.Fatalf("after virsh %s: %q", cmd, st)
	}
	if _, _, rc := virsh(t, fromURI, "domstate "+name); rc == 0 {
		t.Fatalf("%s still on the source after virsh %s", name, cmd)
	}
}

// TestQEMUMigrateLibvirtdTray: a CD-ROM tray the guest opened before a
// migration is still open after it, govirtd -> libvirtd 9.0 -> govirtd
// (issue 18). Each destination reads the tray state back from its QEMU
// once the incoming migration completed (libvirt's
// qemuProcessRefreshState, govirt's runPostStartHooks), and the guest's
// QEMU keeps it in the migration stream.
func TestQEMUMigrateLibvirtdTray(t *testing.T) {
	d, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvmig-tray-%d", os.Getpid())
	cd := rawImage(t, dir, "cd.img", "1M")
	_, sock, con := lvGuest(t, d, name, dir, `    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='`+cd+`'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
`)
	con.Send("gv-eject /dev/sr0")
	if _, err := con.Expect("GV-EJECT /dev/sr0 ok", 60*time.Second); err != nil {
		t.Fatalf("gv-eject: %v\n%s", err, con.Output())
	}
	const open = "<target dev='sda' bus='sata' tray='open'/>"
	// The event is handled asynchronously.
	waitXML := func(u, what string) {
		t.Helper()
		var doc string
		for i := 0; i < 100; i++ {
			doc, _, _ = virsh(t, u, "dumpxml "+name)
			if strings.Contains(doc, open) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: no open tray in the live XML:\n%s", what, doc)
	}
	waitXML(uri, "govirtd after the guest's eject")
	next := filepath.Join(dir, "con1")
	lvMove(t, d, uri, libvirtdURI, name, "--unsafe", sock, next, "", "")
	waitXML(libvirtdURI, "libvirtd after the migration from govirtd")
	sock, next = next, filepath.Join(dir, "con2")
	lvMove(t, d, libvirtdURI, uri, name, "--unsafe", sock, next, "", "")
	// No wait here: the tray is read back before Finish returns.
	if doc := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(doc, open) {
		t.Errorf("govirtd after the migration from libvirtd: no open tray:\n%s", doc)
	}
	// The guest still answers on its console, on govirtd's QEMU.
	c2 := console(t, next)
	c2.Send("gv-sum /dev/vda 64")
	if _, err := c2.Expect("GV-SUM /dev/vda ", 60*time.Second); err != nil {
		t.Errorf("guest after the migrations: %v", err)
	}
	mustVirsh(t, uri, "destroy "+name)
}
