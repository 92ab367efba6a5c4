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

// TestUSBAddresses: with NewDomain (define), more USB devices than root
// ports add a hub, which takes the first port, and the devices fill the
// rest depth first, as libvirtd 9.0 defines usb-hub-autoadd; without it
// (libvirt's xml2xml harness) devices lacking an address keep none.
func TestUSBAddresses(t *testing.T) {
	host := replayHost(t, conformanceDir(t))
	const in = `<domain type='qemu'><name>u</name><memory>65536</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<controller type='usb' index='0'/>
<input type='mouse' bus='usb'/><input type='mouse' bus='usb'/><input type='mouse' bus='usb'/>
<input type='tablet' bus='usb'/></devices></domain>`
	for _, newDomain := range []bool{true, false} {
		def, err := conf.ParseDomain([]byte(in), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := ApplyWith(def, host, Options{NewDomain: newDomain}); err != nil {
			t.Fatal(err)
		}
		out, _ := def.Format(conf.FormatInactive)
		var got []string
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "<address type='usb'") || strings.HasPrefix(l, "<hub") {
				got = append(got, l)
			}
		}
		want := []string{"<address type='usb' bus='0' port='2'/>", "<address type='usb' bus='0' port='1.1'/>",
			"<address type='usb' bus='0' port='1.2'/>", "<address type='usb' bus='0' port='1.3'/>",
			"<hub type='usb'>", "<address type='usb' bus='0' port='1'/>"}
		if !newDomain {
			want = nil
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("NewDomain %v:\n got %q\nwant %q", newDomain, got, want)
		}
	}
}
