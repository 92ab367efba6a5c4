package integration

import (
	"os"
	"strings"
	"testing"
)

// domiftuneScript is one virsh session on test:///default (its state
// lives only as long as the connection): config and live rates, the
// inbound/outbound merge, clearing a direction, lookup by tap name,
// the flag and lookup errors.
const domiftuneScript = "domiftune test aa:bb:cc:dd:ee:ff; domiftune test aa:bb:cc:dd:ee:ff --inbound 1000,2000,3000 --outbound 500 --config; " +
	"domiftune test aa:bb:cc:dd:ee:ff --config; domiftune test aa:bb:cc:dd:ee:ff --live; dumpxml --inactive test; " +
	"domiftune test aa:bb:cc:dd:ee:ff --inbound 0 --config; dumpxml --inactive test; " +
	"domiftune test aa:bb:cc:dd:ee:ff --inbound 100,,,50 --outbound 10,20,30 --live; domiftune test aa:bb:cc:dd:ee:ff; dumpxml test; " +
	"domiftune test aa:bb:cc:dd:ee:ff --inbound 5,6 --live; dumpxml test; domiftune test aa:bb:cc:dd:ee:ff --outbound 0 --live; dumpxml test; " +
	"domiftune test testnet0 --config; domiftune test aa:bb:cc:dd:ee:ff --inbound 1 --live --config"

// TestTestDriverDomiftune: the test driver's domiftune prints what
// libvirtd 9.0's test driver printed for the same session
// (testdata/domiftune-test-libvirtd.txt). The interface's <source> line
// is left out: govirt's test driver writes the network's bridge there,
// a difference older than domiftune; blank lines are left out too, as
// stdout and stderr were recorded interleaved.
func TestTestDriverDomiftune(t *testing.T) {
	d := startDaemon(t)
	out, errOut, _ := virsh(t, d.URI("test"), domiftuneScript)
	want, err := os.ReadFile("testdata/domiftune-test-libvirtd.txt")
	if err != nil {
		t.Fatal(err)
	}
	norm := func(s string) []string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if l != "" && !strings.Contains(l, "<source network=") {
				keep = append(keep, l)
			}
		}
		return keep
	}
	g, w := norm(out+errOut), norm(string(want))
	if strings.Join(g, "\n") == strings.Join(w, "\n") {
		return
	}
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("line %d: govirtd %q, libvirtd %q\ngovirtd's output:\n%s%s", i+1, gl, wl, out, errOut)
		}
	}
}
