package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitJobURI waits until domjobinfo on uri shows a migration job with
// all of want (waitJob for a daemon not started here).
func waitJobURI(t *testing.T, uri, name string, want ...string) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _, _ = virsh(t, uri, "domjobinfo "+name)
		ok := strings.Contains(out, "Unbounded")
		for _, w := range want {
			ok = ok && strings.Contains(out, w)
		}
		if ok {
			return
		}
	}
	t.Fatalf("domjobinfo %s on %s never showed %q: %s", name, uri, want, out)
}

// TestQEMUMigrateLibvirtdAbort: a migration between govirtd and
// libvirtd 9.0 aborted with domjobabort on the source, each direction,
// leaves the guest running on the source only, with its disk data.
func TestQEMUMigrateLibvirtdAbort(t *testing.T) {
	d, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvmig-ab-%d", os.Getpid())
	_, sock, con := lvGuest(t, d, name, dir, "")
	want := guestWrite(t, con, "/dev/vda", 51, 1024)

	// abort starts a slow migration from fromURI, aborts it there once
	// both sides show the job, and checks the guest stays on the source.
	abort := func(fromURI, toURI, sock, next, srcState string) {
		t.Helper()
		doc := mustVirsh(t, fromURI, "dumpxml --migratable "+name)
		path := writeXML(t, filepath.Base(next)+"-dest", strings.Replace(doc, sock, next, 1))
		done := make(chan string, 1)
		go func() {
			out, errOut, rc := virsh(t, fromURI, fmt.Sprintf("migrate --live --unsafe --bandwidth 1 %s %s --xml %s --migrateuri tcp://127.0.0.1:%d", name, toURI, path, freePort(t)))
			done <- fmt.Sprintf("rc=%d %s%s", rc, out, errOut)
		}()
		if toURI == libvirtdURI {
			// libvirt 9.0 has no job statistics on the destination
			// ("available only on the source host"): the guest is there.
			for i := 0; i < 300; i++ {
				if _, _, rc := virsh(t, toURI, "domstate "+name); rc == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		} else {
			waitJobURI(t, toURI, name, "Incoming migration")
		}
		waitJobURI(t, fromURI, name, "Outgoing migration", "Data total:")
		mustVirsh(t, fromURI, "domjobabort "+name)
		var r string
		select {
		case r = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s -> %s: migration not over a minute after domjobabort", fromURI, toURI)
		}
		if !strings.HasPrefix(r, "rc=1 ") || !strings.Contains(r, "canceled by client") {
			t.Fatalf("%s -> %s: aborted migration: %s\ngovirtd:\n%s", fromURI, toURI, r, tail(d.Log(), 3000))
		}
		var st string
		for i := 0; i < 300; i++ {
			st, _, _ = virsh(t, fromURI, "domstate --reason "+name)
			_, _, rc := virsh(t, toURI, "domstate "+name)
			if strings.TrimSpace(st) == srcState && rc != 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s -> %s: after domjobabort: source %q, or the guest is still on the destination", fromURI, toURI, st)
	}
	abort(uri, libvirtdURI, sock, filepath.Join(dir, "con1"), "running (booted)")
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Fatalf("data after the aborted migration to libvirtd: %s, want %s", got, want)
	}
	next := filepath.Join(dir, "con2")
	lvMove(t, d, uri, libvirtdURI, name, "--unsafe", sock, next, "", "")
	sock = next
	abort(libvirtdURI, uri, sock, filepath.Join(dir, "con3"), "running (migrated)")
	if got := guestSum(t, console(t, sock), "/dev/vda", 1024); got != want {
		t.Fatalf("data after the aborted migration from libvirtd: %s, want %s", got, want)
	}
	mustVirsh(t, libvirtdURI, "destroy "+name)
}
