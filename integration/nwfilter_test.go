package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNWFilterSameAsLibvirtd compares virsh's nwfilter commands on
// govirtd's QEMU connection with libvirtd 9.0's on this host. This host
// lacks Debian's libvirt-daemon-config-nwfilter, so the filters libvirt
// ships (which govirtd has on its fresh state dir) are first defined on
// libvirtd with govirtd's UUIDs (libvirtd gives them random ones too);
// then the lists, every shipped filter's XML, a custom filter using
// most protocols and variables, libvirt's refusals (bad values, chain
// names, ports without a protocol, a loop, a root element) and bindings
// must read the same. On the test driver both answer "not supported".
// Everything defined on libvirtd is removed at the end.
func TestNWFilterSameAsLibvirtd(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if !libvirtdUp() {
		t.Skip("libvirtd not reachable on /var/run/libvirt/libvirt-sock")
	}
	d := startDaemon(t)
	ours := d.URI("qemu")
	theirs := "qemu+unix:///system?socket=" + systemLibvirtdSock
	files, _ := filepath.Abs("testdata/nwfilter")

	// The shipped filters, with govirtd's UUIDs, on libvirtd.
	list, _, rc := virsh(t, ours, "nwfilter-list")
	if rc != 0 {
		t.Fatalf("nwfilter-list: rc %d", rc)
	}
	row := regexp.MustCompile(`(?m)^ ([0-9a-f-]{36})\s+(\S+)\s*$`)
	var shipped []string
	for _, m := range row.FindAllStringSubmatch(list, -1) {
		shipped = append(shipped, m[2])
	}
	if len(shipped) != 24 {
		t.Fatalf("govirtd lists %d filters, want the 24 libvirt ships:\n%s", len(shipped), list)
	}
	var defined []string
	t.Cleanup(func() {
		virsh(t, theirs, "nwfilter-binding-delete", "gvcmptap9")
		for _, n := range []string{"gvcmp-custom", "gvcmp-inner", "gvcmp-bad"} {
			virsh(t, theirs, "nwfilter-undefine", n)
		}
		for i := len(defined) - 1; i >= 0; i-- {
			if _, e, rc := virsh(t, theirs, "nwfilter-undefine", defined[i]); rc != 0 {
				t.Errorf("cleanup: nwfilter-undefine %s on libvirtd: %s", defined[i], e)
			}
		}
	})
	tmp := t.TempDir()
	// Referenced filters first: libvirt refuses nothing here, but the
	// order keeps libvirtd's files tidy.
	for _, n := range shipped {
		if _, _, rc := virsh(t, theirs, "nwfilter-dumpxml", n); rc == 0 {
			continue // libvirtd has it already (a host with Debian's package)
		}
		x, _, _ := virsh(t, ours, "nwfilter-dumpxml", n)
		p := filepath.Join(tmp, n+".xml")
		os.WriteFile(p, []byte(x), 0o644)
		if _, e, rc := virsh(t, theirs, "nwfilter-define", p); rc != 0 {
			t.Fatalf("define %s on libvirtd: %s", n, e)
		}
		defined = append(defined, n)
	}

	same := func(args ...string) {
		t.Helper()
		o1, e1, r1 := virsh(t, ours, args...)
		o2, e2, r2 := virsh(t, theirs, args...)
		if o1 != o2 || e1 != e2 || r1 != r2 {
			t.Errorf("virsh %s differs\n--- govirtd (rc %d)\n%s%s--- libvirtd (rc %d)\n%s%s", strings.Join(args, " "), r1, o1, e1, r2, o2, e2)
		}
	}
	same("nwfilter-list")
	for _, n := range shipped {
		same("nwfilter-dumpxml", n)
	}
	// A custom filter and the filter it references; redefining it.
	same("nwfilter-define", filepath.Join(files, "inner.xml"))
	same("nwfilter-define", filepath.Join(files, "custom.xml"))
	same("nwfilter-define", filepath.Join(files, "custom.xml"))
	same("nwfilter-dumpxml", "gvcmp-custom")
	same("nwfilter-dumpxml", "gvcmp-inner")
	same("nwfilter-dumpxml", "6e0c6a0e-6b1e-4c65-9a58-2f1a43b1c001")
	same("nwfilter-list")
	for _, bad := range []string{"loop.xml", "bad-value.xml", "bad-chain.xml", "bad-ports.xml", "bad-action.xml", "bad-root.xml"} {
		same("nwfilter-define", filepath.Join(files, bad))
	}
	same("nwfilter-define", "--validate", filepath.Join(files, "custom.xml"))
	same("nwfilter-dumpxml", "gvcmp-nosuch")
	same("nwfilter-undefine", "gvcmp-nosuch")
	// A binding of a port that does not exist is kept without rules.
	same("nwfilter-binding-create", filepath.Join(files, "binding.xml"))
	same("nwfilter-binding-create", filepath.Join(files, "binding.xml"))
	same("nwfilter-binding-list")
	same("nwfilter-binding-dumpxml", "gvcmptap9")
	same("nwfilter-undefine", "gvcmp-custom") // a binding on a missing port does not hold it
	same("nwfilter-binding-delete", "gvcmptap9")
	same("nwfilter-binding-delete", "gvcmptap9")
	same("nwfilter-binding-dumpxml", "gvcmptap9")
	same("nwfilter-binding-list")
	same("nwfilter-undefine", "gvcmp-inner")
	same("nwfilter-list")

	// libvirt's test driver has no nwfilter driver.
	testTheirs := "test+unix:///default?socket=" + systemLibvirtdSock
	for _, args := range [][]string{{"nwfilter-list"}, {"nwfilter-binding-list"}, {"nwfilter-dumpxml", "clean-traffic"},
		{"nwfilter-define", filepath.Join(files, "inner.xml")}, {"nwfilter-binding-dumpxml", "x"}} {
		o1, e1, r1 := virsh(t, d.URI("test"), args...)
		o2, e2, r2 := virsh(t, testTheirs, args...)
		if o1 != o2 || e1 != e2 || r1 != r2 {
			t.Errorf("test driver: virsh %s differs\n--- govirtd (rc %d)\n%s%s--- libvirtd (rc %d)\n%s%s", strings.Join(args, " "), r1, o1, e1, r2, o2, e2)
		}
	}
}
