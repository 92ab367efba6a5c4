package postparse

import (
	"strings"
	"testing"

	"govirt/conf"
)

// noXHCI is a QEMU without USB3 controllers: q35 then gets libvirt's
// EHCI controller with its UHCI companions.
type noXHCI struct{ Caps }

func (c noXHCI) Has(f string) bool {
	if f == "qemu-xhci" || f == "nec-usb-xhci" {
		return false
	}
	return c.Caps.Has(f)
}
func (c noXHCI) HasType(f string) bool {
	if f == "qemu-xhci" || f == "nec-usb-xhci" {
		return false
	}
	return c.Caps.HasType(f)
}

func TestUSB2Companions(t *testing.T) {
	host := noXHCI{replayHost(t, conformanceDir(t))}
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>u</name><memory>65536</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(def, host); err != nil {
		t.Fatal(err)
	}
	out, _ := def.Format(conf.FormatInactive)
	for _, want := range []string{
		"<controller type='usb' index='0' model='ich9-ehci1'>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x1d' function='0x7'/>",
		"<controller type='usb' index='0' model='ich9-uhci1'>\n      <master startport='0'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x1d' function='0x0' multifunction='on'/>",
		"<controller type='usb' index='0' model='ich9-uhci2'>\n      <master startport='2'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x1d' function='0x1'/>",
		"<controller type='usb' index='0' model='ich9-uhci3'>\n      <master startport='4'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x1d' function='0x2'/>",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing\n%s\nin\n%s", want, out)
		}
	}
}
