package postparse

import (
	"strings"
	"testing"

	"govirt/conf"
)

// TestPCIIndexGapsAndExpanders: buses named by an address or an index
// gap get the controllers libvirt adds for them (pci-bridges on i440fx),
// and expander buses without busNr get libvirt's: two below the lowest.
func TestPCIIndexGapsAndExpanders(t *testing.T) {
	host := replayHost(t, conformanceDir(t))
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>g</name><memory>65536</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<controller type='pci' index='0' model='pci-root'/>
<controller type='pci' index='2' model='pci-bridge'/>
<controller type='pci' index='3' model='pci-expander-bus'><target busNr='200'/></controller>
<controller type='pci' index='4' model='pci-expander-bus'/>
<interface type='user'><mac address='52:54:00:00:00:01'/><model type='e1000'/>
<address type='pci' domain='0x0000' bus='0x05' slot='0x04' function='0x0'/></interface>
</devices></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(def, host); err != nil {
		t.Fatal(err)
	}
	out, _ := def.Format(conf.FormatInactive)
	for _, want := range []string{
		"<controller type='pci' index='1' model='pci-bridge'>\n      <model name='pci-bridge'/>\n      <target chassisNr='1'/>",
		"<controller type='pci' index='5' model='pci-bridge'>\n      <model name='pci-bridge'/>\n      <target chassisNr='5'/>",
		"<controller type='pci' index='3' model='pci-expander-bus'>\n      <model name='pxb'/>\n      <target busNr='200'/>",
		"<controller type='pci' index='4' model='pci-expander-bus'>\n      <model name='pxb'/>\n      <target busNr='198'/>",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lacks\n%s\n---\n%s", want, out)
		}
	}
}

// TestExpanderRefusals: libvirt's refusals of expander buses, with its
// messages.
func TestExpanderRefusals(t *testing.T) {
	host := replayHost(t, conformanceDir(t))
	for _, c := range []struct{ machine, ctl, want string }{
		{"pc", "<controller type='pci' index='1' model='pcie-expander-bus'><target busNr='200'/></controller>",
			"pcie-expander-bus controllers are not supported with this machine type"},
		{"q35", "<controller type='pci' index='1' model='pci-expander-bus'><target busNr='200'/></controller>",
			"pci-expander-bus controllers are only supported on 440fx-based machinetypes"},
		{"pc", "<controller type='pci' index='1' model='pci-expander-bus'><target busNr='200'><node>0</node></target></controller>",
			"pci-expander-bus with index 1 is configured for a NUMA node (0) not present in the domain's <cpu><numa> array (0)"},
	} {
		def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>x</name><memory>65536</memory>
<os><type arch='x86_64' machine='`+c.machine+`'>hvm</type></os><devices>`+c.ctl+`</devices></domain>`), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(def, host); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.ctl, err, c.want)
		}
	}
}
