package conf

import (
	"strings"
	"testing"
)

// libvirt 9.0's parser reads <filterref> only on network, bridge and
// ethernet interfaces (libvirtd's qemu:///system drops it from the
// others' XML, checked side by side for direct and user).
func TestFilterRefOnlyOnTapTypes(t *testing.T) {
	doc := `<domain type='qemu'><name>f</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><devices>
<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='eth0' mode='bridge'/><filterref filter='clean-traffic'/></interface>
<interface type='user'><mac address='52:54:00:00:00:02'/><filterref filter='clean-traffic'/></interface>
<interface type='network'><mac address='52:54:00:00:00:03'/><source network='default'/><filterref filter='clean-traffic'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:04'/><source bridge='br0'/><filterref filter='clean-traffic'/></interface>
<interface type='ethernet'><mac address='52:54:00:00:00:05'/><filterref filter='no-mac-spoofing'><parameter name='X' value='1'/></filterref></interface>
</devices></domain>`
	d, err := ParseDomain([]byte(doc), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"direct": "", "user": "", "network": "clean-traffic", "bridge": "clean-traffic", "ethernet": "no-mac-spoofing"}
	for _, n := range d.Devices.Interfaces {
		if f, _ := n.FilterRef(); f != want[n.Type] {
			t.Errorf("%s: filterref %q, want %q", n.Type, f, want[n.Type])
		}
	}
	out, _ := d.Format(0)
	if got := strings.Count(string(out), "<filterref"); got != 3 {
		t.Errorf("%d filterrefs written:\n%s", got, out)
	}
	dev, err := ParseDevice([]byte(`<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='eth0'/><filterref filter='x'/></interface>`))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := dev.(*Interface).FilterRef(); f != "" {
		t.Errorf("update-device's direct NIC keeps filterref %q", f)
	}
}
