package integration

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestNodePages drives virsh freepages and allocpages on the QEMU driver:
// the free counts of the system page size and of 2 MiB huge pages per
// cell, a 2 MiB pool grown by one page (then set back to its size), and
// libvirt's refusals. With GOVIRT_LIBVIRTD_COMPARE=1 the read-only
// answers are compared with libvirtd's.
func TestNodePages(t *testing.T) {
	const pool = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"
	before, err := os.ReadFile(pool)
	if err != nil {
		t.Skipf("no 2 MiB huge page pool on node 0: %v", err)
	}
	t.Cleanup(func() { os.WriteFile(pool, before, 0) })
	d := startDaemon(t)
	uri := d.URI("qemu")

	// The capabilities list the page sizes and each cell's pools, which
	// virsh freepages --all reads first.
	caps := mustVirsh(t, uri, "capabilities")
	for _, want := range []string{"<pages unit='KiB' size='2048'/>", "<cells num=", "<pages unit='KiB' size='2048'>", "<sibling id='0' value='10'/>"} {
		if !strings.Contains(caps, want) {
			t.Errorf("capabilities lack %s", want)
		}
	}
	if libvirtdCompare(t) {
		lv := mustVirsh(t, "qemu:///system", "capabilities")
		topo := regexp.MustCompile(`(?s)<topology>.*</topology>`)
		// The free counts move between the two reads; the layout must not.
		norm := func(s string) string {
			return regexp.MustCompile(`size='4'>\d+<`).ReplaceAllString(topo.FindString(s), "size='4'>N<")
		}
		if a, b := norm(caps), norm(lv); a != b {
			t.Errorf("host topology differs from libvirtd's:\n%s\n---\n%s", a, b)
		}
	}
	out := mustVirsh(t, uri, "freepages --all")
	if !regexp.MustCompile(`(?m)^Node 0:\n4KiB: \d+\n2048KiB: \d+\n1048576KiB: \d+$`).MatchString(out) {
		t.Errorf("freepages --all:\n%s", out)
	}
	mustVirsh(t, uri, "allocpages --pagesize 2M --cellno 0 1 --add")
	if got := strings.TrimSpace(mustVirsh(t, uri, "freepages --cellno 0 --pagesize 2048")); got != "2048KiB: "+strings.TrimSpace(addOne(string(before))) {
		t.Errorf("after allocpages --add: %q (pool was %s)", got, strings.TrimSpace(string(before)))
	}
	mustVirsh(t, uri, "allocpages --pagesize 2M --cellno 0 "+strings.TrimSpace(string(before)))
	if b, _ := os.ReadFile(pool); string(b) != string(before) {
		t.Errorf("allocpages (set) left the pool at %s, want %s", b, before)
	}
	// Without --cellno virsh asks for cell -1: libvirt's host-wide pools
	// in /sys/kernel/mm/hugepages, the sum over all cells.
	const hostPool = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
	hostBefore, err := os.ReadFile(hostPool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(hostPool, hostBefore, 0) })
	mustVirsh(t, uri, "allocpages --pagesize 2M 1 --add")
	if got := strings.TrimSpace(mustVirsh(t, uri, "freepages --cellno -1 --pagesize 2M")); got != "2048KiB: "+addOne(string(hostBefore)) {
		t.Errorf("host-wide pool after allocpages --add: %q (was %s)", got, strings.TrimSpace(string(hostBefore)))
	}
	mustVirsh(t, uri, "allocpages --pagesize 2M "+strings.TrimSpace(string(hostBefore)))
	if b, _ := os.ReadFile(hostPool); string(b) != string(hostBefore) {
		t.Errorf("allocpages (set, all cells) left the pool at %s, want %s", b, hostBefore)
	}
	if out := mustVirsh(t, uri, "freepages --cellno -1 --pagesize 4"); !regexp.MustCompile(`^4KiB: \d+\n`).MatchString(out) {
		t.Errorf("freepages --cellno -1 --pagesize 4: %q", out)
	}
	for cmd, want := range map[string]string{
		"allocpages --pagesize 8 0":              "error: operation failed: page size 8 is not available\n",
		"allocpages --pagesize 4 0":              "error: Operation not supported: system pages pool can't be modified",
		"allocpages --pagesize 2M --cellno -2 0": "error: operation failed: NUMA node -2 is not available",
		"allocpages --pagesize 8 --cellno 0 0":   "error: operation failed: page size 8 is not available on node 0",
		"allocpages --pagesize 4 --cellno 0 1":   "error: Operation not supported: system pages pool can't be modified",
		"freepages --cellno 7 --pagesize 2048":   "error: internal error: start cell 7 out of range (0-0)",
		"freepages --cellno 0 --pagesize 3":      "error: operation failed: page size 3 is not available on node 0",
		"allocpages --pagesize 2M --cellno 9 1":  "error: internal error: start cell 9 out of range (0-0)",
	} {
		if _, e, rc := virsh(t, uri, cmd); rc == 0 || !strings.Contains(e, want) {
			t.Errorf("%s: rc=%d %q, want %q", cmd, rc, e, want)
		}
		if libvirtdCompare(t) {
			_, le, _ := virsh(t, "qemu:///system", cmd)
			if !strings.Contains(le, want) {
				t.Errorf("libvirtd says %q to %s", le, cmd)
			}
		}
	}
	if libvirtdCompare(t) {
		for _, cmd := range []string{"freepages --cellno 0 --pagesize 1048576"} {
			sameAsLibvirtd(t, uri, cmd)
		}
	}
}

func addOne(s string) string {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return strconv.Itoa(n + 1)
}
