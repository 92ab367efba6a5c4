package integration

import (
	"strings"
	"testing"
)

// TestDefaultNetwork: a first start of govirtd defines libvirt's 'default'
// network (NAT on virbr0, 192.168.122.0/24) without starting it (libvirtd
// here owns a virbr0), a restart after the user undefined it does not
// bring it back, and --no-default-network (the test helpers' setting)
// defines nothing.
func TestDefaultNetwork(t *testing.T) {
	d := startDaemon(t, "--no-default-network=false")
	uri := d.URI("qemu")
	out := mustVirsh(t, uri, "net-list --all")
	if !strings.Contains(out, " default   inactive   no          yes") {
		t.Fatalf("net-list --all:\n%s", out)
	}
	x := mustVirsh(t, uri, "net-dumpxml default")
	for _, want := range []string{"<name>default</name>", "<forward mode='nat'", "<bridge name='virbr0'",
		"<ip address='192.168.122.1' netmask='255.255.255.0'>", "<range start='192.168.122.2' end='192.168.122.254'/>"} {
		if !strings.Contains(x, want) {
			t.Errorf("net-dumpxml default lacks %s:\n%s", want, x)
		}
	}
	mustVirsh(t, uri, "net-undefine default")
	d.crashRestart()
	if out := mustVirsh(t, uri, "net-list --all --name"); strings.TrimSpace(out) != "" {
		t.Errorf("after undefine and a restart:\n%s", out)
	}

	d2 := startDaemon(t)
	if out := mustVirsh(t, d2.URI("qemu"), "net-list --all --name"); strings.TrimSpace(out) != "" {
		t.Errorf("with --no-default-network:\n%s", out)
	}
}
