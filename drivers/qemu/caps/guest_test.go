package caps

import (
	"strings"
	"testing"

	"govirt/conf"
)

func TestGuestCapabilities(t *testing.T) {
	c := probeReplay(t)
	g := c.GuestCapabilities()
	if g.OSType != "hvm" || g.Arch != "x86_64" || g.WordSize != 64 || g.Emulator != "/usr/bin/qemu-system-x86_64" {
		t.Errorf("guest header %+v", g)
	}
	if strings.Join(g.Domains, ",") != "qemu,kvm" {
		t.Errorf("domains %v", g.Domains)
	}
	// The default machine comes first as its canonical name, then its
	// alias; q35 gets the same treatment where it appears.
	if len(g.Machines) < 2 || g.Machines[0] != (conf.CapsMachine{Name: "pc-i440fx-7.2", MaxCPUs: 255}) ||
		g.Machines[1] != (conf.CapsMachine{Name: "pc", Canonical: "pc-i440fx-7.2", MaxCPUs: 255}) {
		t.Errorf("first machines %+v", g.Machines[:2])
	}
	seen := map[string]int{}
	for i, m := range g.Machines {
		seen[m.Name]++
		if m.Name == "q35" {
			if m.Canonical != "pc-q35-7.2" || m.MaxCPUs != 288 || g.Machines[i-1].Name != "pc-q35-7.2" {
				t.Errorf("q35 entry %+v after %+v", m, g.Machines[i-1])
			}
		}
	}
	for n, k := range seen {
		if k != 1 {
			t.Errorf("machine %s listed %d times", n, k)
		}
	}
	// kvm machines (minus "none") plus one extra entry per alias.
	if len(g.Machines) != len(c.Machines)+2 {
		t.Errorf("%d machines for %d probed", len(g.Machines), len(c.Machines))
	}
	var feats []string
	for _, f := range g.Features {
		feats = append(feats, f.Name)
	}
	if strings.Join(feats, ",") != "acpi,apic,cpuselection,deviceboot,disksnapshot" {
		t.Errorf("features %v", feats)
	}
	doc := &conf.Capabilities{Guests: []conf.CapsGuest{g}}
	out, err := doc.Format()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<machine maxCpus='255'>pc-i440fx-7.2</machine>",
		"<machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>", "<domain type='kvm'/>",
		"<acpi default='on' toggle='yes'/>", "<disksnapshot default='on' toggle='no'/>"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("formatted capabilities lack %s", want)
		}
	}
}
