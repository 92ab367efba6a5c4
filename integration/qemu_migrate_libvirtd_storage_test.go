package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQEMUMigrateLibvirtdCopyStorage migrates a running guest with
// --copy-storage-all between govirtd and libvirtd 9.0, both directions,
// client-driven and then --p2p, without shared storage: each
// destination's image is absent in a directory of its own before the
// migration, is created there by the destination (libvirtd in a storage
// pool on that directory, as qemuMigrationDstPrecreateStorage requires;
// govirtd at the path the destination XML names) and filled over the destination's NBD server (the
// cookie's <nbd port=...> with the disk list). The data the guest wrote
// before the first migration is read back after each. The pool and the
// guest are removed from libvirtd whatever happens.
func TestQEMUMigrateLibvirtdCopyStorage(t *testing.T) {
	d, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvmig-cs-%d", os.Getpid())
	image, sock, con := lvGuest(t, d, name, dir, "")
	want := guestWrite(t, con, "/dev/vda", 23, 1024)

	lvDir, backDir := filepath.Join(dir, "lv"), filepath.Join(dir, "back")
	for _, p := range []string{lvDir, backDir} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pool := name + "-pool"
	t.Cleanup(func() { virsh(t, libvirtdURI, "pool-destroy", pool) })
	mustVirsh(t, libvirtdURI, "pool-create-as "+pool+" dir --target "+lvDir)

	check := func(leg, sock, img string) {
		t.Helper()
		if _, err := os.Stat(img); err != nil {
			t.Fatalf("%s: destination image: %v", leg, err)
		}
		if got := guestSum(t, console(t, sock), "/dev/vda", 1024); got != want {
			t.Fatalf("%s: disk data %s, want %s", leg, got, want)
		}
	}
	lvImage := filepath.Join(lvDir, "disk.qcow2")
	next := filepath.Join(dir, "con1")
	lvMove(t, d, uri, libvirtdURI, name, "--copy-storage-all", sock, next, image, lvImage)
	check("govirtd -> libvirtd", next, lvImage)
	if doc := mustVirsh(t, libvirtdURI, "dumpxml "+name); !strings.Contains(doc, lvImage) {
		t.Errorf("libvirtd's guest is not on %s:\n%s", lvImage, doc)
	}

	// libvirtd stopped its NBD server in Finish: it does so only when
	// govirtd's Perform cookie has <nbd>, and a left-over export makes
	// the next migration fail (QEMU cannot inactivate the disk).
	if out := mustVirsh(t, libvirtdURI, "qemu-monitor-command "+name+` '{"execute":"query-block-exports"}'`); !strings.Contains(out, `"return":[]`) {
		t.Errorf("libvirtd's QEMU still exports disks after the migration: %s", out)
	}
	backImage := filepath.Join(backDir, "disk.qcow2")
	sock, next = next, filepath.Join(dir, "con2")
	lvMove(t, d, libvirtdURI, uri, name, "--copy-storage-all", sock, next, lvImage, backImage)
	check("libvirtd -> govirtd", next, backImage)
	if doc := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(doc, backImage) {
		t.Errorf("govirtd's guest is not on %s:\n%s", backImage, doc)
	}

	// The same, peer to peer (each daemon drives the migration over its
	// own connection to the other), onto new images again.
	lvImage2 := filepath.Join(lvDir, "disk2.qcow2")
	sock, next = next, filepath.Join(dir, "con3")
	lvMove(t, d, uri, libvirtdURI, name, "--p2p --copy-storage-all", sock, next, backImage, lvImage2)
	check("govirtd -> libvirtd --p2p", next, lvImage2)
	backImage2 := filepath.Join(backDir, "disk2.qcow2")
	sock, next = next, filepath.Join(dir, "con4")
	lvMove(t, d, libvirtdURI, uri, name, "--p2p --copy-storage-all", sock, next, lvImage2, backImage2)
	check("libvirtd -> govirtd --p2p", next, backImage2)
	mustVirsh(t, uri, "destroy "+name)
}
