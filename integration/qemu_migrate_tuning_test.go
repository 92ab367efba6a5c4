package integration

import (
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/tlsauth/pkitest"
)

// migrateTLSDir writes QEMU's x509 directory layout (ca-cert.pem,
// server-cert.pem, server-key.pem, client-cert.pem, client-key.pem) for
// migrations between daemons on this host.
func migrateTLSDir(t *testing.T) string {
	t.Helper()
	ca, err := pkitest.NewCA("govirt migration CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(pkix.Name{CommonName: "localhost", Organization: []string{"govirt"}})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.Client(pkix.Name{CommonName: "client", Organization: []string{"govirt"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"ca-cert.pem": ca.PEM, "server-cert.pem": srv.CertPEM, "server-key.pem": srv.KeyPEM,
		"client-cert.pem": cli.CertPEM, "client-key.pem": cli.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestQEMUMigrateTuning: domjobinfo shows a running migration's memory
// figures (iterations, page size, compression cache) with --compressed,
// and domjobabort stops it; the guest then moves with --auto-converge
// (tuned) --parallel (two connections) over QEMU's native TLS, and
// back with xbzrle and multithreaded compression; domjobinfo
// --completed shows the finished job on both sides, once; --offline
// then defines it on the other side while it keeps running here.
func TestQEMUMigrateTuning(t *testing.T) {
	tlsDir := migrateTLSDir(t)
	conf := filepath.Join(t.TempDir(), "govirtd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("migrate_tls_x509_cert_dir = \"%s\"\n", tlsDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	src, dst := startDaemon(t, "--config", conf), startDaemon(t, "--config", conf)
	t.Cleanup(func() {
		killGuests(src)
		killGuests(dst)
		if t.Failed() {
			t.Logf("source daemon:\n%s\ndestination daemon:\n%s", src.Log(), dst.Log())
		}
	})
	dir := t.TempDir()
	image, sock, sock2 := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console"), filepath.Join(dir, "console2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "define "+writeXML(t, "tune", noVNC(migrateGuestXML(t, "tune", image, sock))))
	mustVirsh(t, src.URI("qemu"), "start tune")
	con := waitBoot(t, sock)
	want := guestWrite(t, con, "/dev/vda", 31, 1024)
	con.Send("yes GOVIRT-MEMORY | head -c 8000000 >/tmp/gvmem")
	memWant := guestMemSum(t, con, "/tmp/gvmem")
	con.Send("(while :; do yes dirty | head -c 8000000 >/tmp/dirty; sleep 1; done) >/dev/null 2>&1 &")

	// A slow compressed migration, watched and aborted.
	done := make(chan string, 1)
	go func() {
		out, rc := migrateXML(t, src, dst, "tune", "--compressed --bandwidth 1", sock, sock2)
		done <- fmt.Sprintf("rc=%d %s", rc, out)
	}()
	waitJob(t, src, "tune", "Outgoing migration", "Memory processed:", "Iteration:", "Page size:", "Compression cache:", "Dirty rate:")
	mustVirsh(t, src.URI("qemu"), "domjobabort tune")
	if r := <-done; !strings.Contains(r, "canceled by client") {
		t.Fatalf("aborted migration: %s", r)
	}
	if out, _, _ := virsh(t, src.URI("qemu"), "domjobinfo --completed tune"); !strings.Contains(out, "None") {
		t.Errorf("an aborted migration left completed statistics: %s", out)
	}

	out, rc := migrateXML(t, src, dst, "tune",
		"--persistent --auto-converge --auto-converge-initial 30 --auto-converge-increment 20 --parallel --parallel-connections 2 --tls --tls-destination localhost",
		sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate --auto-converge --parallel --tls: rc=%d\n%s", rc, out)
	}
	if got := domState(t, dst, "tune"); got != "running (migrated)" {
		t.Errorf("destination: %q", got)
	}
	out = mustVirsh(t, src.URI("qemu"), "domjobinfo --completed --keep-completed tune")
	for _, w := range []string{"Completed", "Outgoing migration", "Memory processed:", "Total downtime:", "Iteration:"} {
		if !strings.Contains(out, w) {
			t.Errorf("source's completed job lacks %q:\n%s", w, out)
		}
	}
	if again := mustVirsh(t, src.URI("qemu"), "domjobinfo --completed tune"); !strings.Contains(again, "Completed") {
		t.Errorf("--keep-completed dropped the statistics: %s", again)
	}
	if again := mustVirsh(t, src.URI("qemu"), "domjobinfo --completed tune"); !strings.Contains(again, "None") {
		t.Errorf("completed statistics kept after a read without --keep-completed: %s", again)
	}
	// The destination's figures are the source's, sent in the cookie's
	// <statistics> as libvirt does.
	out = mustVirsh(t, dst.URI("qemu"), "domjobinfo --completed tune")
	for _, w := range []string{"Completed", "Incoming migration", "Memory processed:", "Memory total:", "Total downtime:", "Iteration:", "Page size:"} {
		if !strings.Contains(out, w) {
			t.Errorf("destination's completed job lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "Memory processed: 0.000 B") {
		t.Errorf("destination's completed job moved no memory:\n%s", out)
	}
	con = console(t, sock2)
	if got := guestMemSum(t, con, "/tmp/gvmem"); got != memWant {
		t.Errorf("memory after the parallel TLS migration: %s, want %s", got, memWant)
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("disk after the parallel TLS migration: %s, want %s", got, want)
	}

	// Back, compressed with both methods.
	out, rc = migrateXML(t, dst, src, "tune", "--compressed --comp-methods xbzrle,mt --comp-mt-threads 2 --comp-xbzrle-cache 8388608", sock2, sock)
	if rc != 0 {
		t.Fatalf("migrate --compressed: rc=%d\n%s", rc, out)
	}
	if got := domState(t, src, "tune"); got != "running (migrated)" {
		t.Errorf("back on the source: %q", got)
	}
	if out := mustVirsh(t, src.URI("qemu"), "domjobinfo --completed tune"); !strings.Contains(out, "Incoming migration") || !strings.Contains(out, "Compression cache:") {
		t.Errorf("completed xbzrle migration here lacks the source's compression figures:\n%s", out)
	}
	con = console(t, sock)
	if got := guestMemSum(t, con, "/tmp/gvmem"); got != memWant {
		t.Errorf("memory after the compressed migration: %s, want %s", got, memWant)
	}

	// --offline moves the definition only; the guest keeps running here.
	mustVirsh(t, dst.URI("qemu"), "undefine tune")
	if _, errOut, rc := virsh(t, src.URI("qemu"), "migrate --offline tune "+dst.URI("qemu")); rc == 0 ||
		!strings.Contains(errOut, "offline migration must be specified with the persistent flag set") {
		t.Errorf("--offline without --persistent: rc=%d %s", rc, errOut)
	}
	mustVirsh(t, src.URI("qemu"), "migrate --offline --persistent tune "+dst.URI("qemu"))
	if got := domState(t, dst, "tune"); got != "shut off (unknown)" {
		t.Errorf("destination after --offline: %q", got)
	}
	if got := domState(t, src, "tune"); got != "running (migrated)" {
		t.Errorf("source after --offline: %q", got)
	}
}
