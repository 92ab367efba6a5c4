package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUMigrateAbortKinds: a domjobabort on the source during a
// migration of each kind the other tests do not abort — tunnelled (peer
// to peer), storage copy, --postcopy before the switch, QEMU's native
// TLS — leaves the guest running on the source only, with its job over
// and its disk data intact; the destination has no guest left (and the
// image a storage migration created there is removed again). Plain,
// peer-to-peer and compressed migrations are aborted in
// TestQEMUMigrateTransient, TestQEMUMigrateP2P and TestQEMUMigrateTuning.
func TestQEMUMigrateAbortKinds(t *testing.T) {
	tlsDir := migrateTLSDir(t)
	cfg := filepath.Join(t.TempDir(), "govirtd.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("migrate_tls_x509_cert_dir = \"%s\"\n", tlsDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	src, dst := startDaemon(t, "--config", cfg), startDaemon(t, "--config", cfg)
	t.Cleanup(func() {
		killGuests(src)
		killGuests(dst)
		if t.Failed() {
			t.Logf("source daemon:\n%s\ndestination daemon:\n%s", src.Log(), dst.Log())
		}
	})
	dir, dstDir := t.TempDir(), t.TempDir()
	image, sock, sock2 := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console"), filepath.Join(dstDir, "console")
	image2 := filepath.Join(dstDir, "disk.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "create "+writeXML(t, "ab", noVNC(migrateGuestXML(t, "ab", image, sock))))
	con := waitBoot(t, sock)
	want := guestWrite(t, con, "/dev/vda", 41, 1024)

	for _, c := range []struct{ kind, flags string }{
		{"tunnelled", "--p2p --tunnelled"},
		{"copy-storage", "--copy-storage-all"},
		{"postcopy", "--postcopy"},
		{"tls", "--tls --tls-destination localhost"},
	} {
		doc := mustVirsh(t, src.URI("qemu"), "dumpxml --migratable ab")
		doc = strings.Replace(doc, sock, sock2, 1)
		if c.kind == "copy-storage" {
			doc = strings.Replace(doc, image, image2, 1)
		}
		path := writeXML(t, "ab-"+c.kind, doc)
		done := make(chan string, 1)
		go func() {
			out, errOut, rc := virsh(t, src.URI("qemu"), fmt.Sprintf("migrate --live %s --bandwidth 1 --xml %s ab %s", c.flags, path, dst.URI("qemu")))
			done <- fmt.Sprintf("rc=%d %s%s", rc, out, errOut)
		}()
		waitJob(t, dst, "ab", "Incoming migration")
		waitJob(t, src, "ab", "Outgoing migration", "Data total:")
		mustVirsh(t, src.URI("qemu"), "domjobabort ab")
		var r string
		select {
		case r = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: migration not over a minute after domjobabort", c.kind)
		}
		if !strings.HasPrefix(r, "rc=1 ") || !strings.Contains(r, "canceled by client") {
			t.Fatalf("%s: aborted migration: %s", c.kind, r)
		}
		waitState(t, src, "ab", "running (booted)", 30*time.Second)
		waitGone(t, dst, "ab")
		if out, _, _ := virsh(t, src.URI("qemu"), "domjobinfo ab"); !strings.Contains(out, "None") {
			t.Errorf("%s: job left on the source: %q", c.kind, out)
		}
		if c.kind == "copy-storage" {
			if _, err := os.Stat(image2); !os.IsNotExist(err) {
				t.Errorf("%s: the destination's image is still there: %v", c.kind, err)
			}
		}
		if got := guestSum(t, con, "/dev/vda", 1024); got != want {
			t.Fatalf("%s: data after the aborted migration: %s, want %s", c.kind, got, want)
		}
	}
	mustVirsh(t, src.URI("qemu"), "destroy ab")
}
