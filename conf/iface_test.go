package conf

import (
	"strings"
	"testing"
)

func TestHostInterfaceRoundTrip(t *testing.T) {
	in := `<interface type="ethernet" name="eth1">
  <start mode="onboot"/>
  <mtu size="1492"/>
  <protocol family="ipv4">
    <ip address="192.168.0.5" prefix="24"/>
    <route gateway="192.168.0.1"/>
  </protocol>
  <mac address="aa:bb:cc:dd:ee:ff"/>
</interface>`
	i, err := ParseHostInterface([]byte(in), ParseValidate)
	if err != nil {
		t.Fatal(err)
	}
	if i.Name != "eth1" || i.MAC != "aa:bb:cc:dd:ee:ff" || i.MTU != 1492 || i.StartMode != "onboot" {
		t.Fatalf("%+v", i)
	}
	c := i.Clone()
	c.MTU = 9000
	out, _ := i.Format(0)
	if !strings.Contains(string(out), "<protocol family='ipv4'>") || strings.Contains(string(out), "9000") {
		t.Fatalf("output:\n%s", out)
	}
	schemaValid(t, "interface.rng", out)
	fixedPoint(t, i, func(b []byte) (formatter, error) { return ParseHostInterface(b, 0) })
}

// libvirt leaves a blank line after <capabilities> and after each section,
// and writes an empty NUMA topology's <cells> open.
func TestCapabilitiesLayout(t *testing.T) {
	c := &Capabilities{Host: CapsHost{CPU: CapsHostCPU{Arch: "i686", FeatureFlags: []string{"pae"}},
		Cells: []CapsCell{}, SecModels: []CapsSecModel{{Model: "testSecurity"}}},
		Guests: []CapsGuest{{OSType: "hvm", Arch: "i686", Domains: []string{"test"}}}}
	out, _ := c.Format()
	s := string(out)
	for _, want := range []string{"<capabilities>\n\n  <host>\n    <cpu>", "</host>\n\n  <guest>",
		"</guest>\n\n</capabilities>\n", "<cells num='0'>\n      </cells>", "<doi></doi>",
		"<features>\n        <pae/>"} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "<uuid>") || strings.Contains(s, "migration_features") {
		t.Errorf("unset parts written:\n%s", s)
	}
}
