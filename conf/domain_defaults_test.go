package conf

import (
	"regexp"
	"strings"
	"testing"
)

// A minimal domain comes back with libvirt's defaults, in libvirt's places
// (compare libvirtd 9.0's dumpxml of the same definition).
func TestParseTimeDefaults(t *testing.T) {
	d, err := ParseDomain([]byte(`<domain type='test'><name>demo</name>
<uuid>ae76a05c-e77f-41ca-84fa-e73af5b2e829</uuid><memory unit='MiB'>128</memory>
<vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := d.Format(0)
	want := `<domain type='test'>
  <name>demo</name>
  <uuid>ae76a05c-e77f-41ca-84fa-e73af5b2e829</uuid>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
  </devices>
</domain>
`
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestDefaultsKeepWhatUserWrote(t *testing.T) {
	d, err := ParseDomain([]byte(`<domain type='test'><name>x</name><memory>1024</memory>
<os><type>hvm</type></os><clock offset='localtime'/><on_crash>restart</on_crash>
<devices><disk type='file' device='disk'><source file='/a'/><target dev='hda' bus='ide'/>
<boot order='1'/><address type='drive' controller='1' unit='0'/></disk>
<interface type='user'><address type='pci' slot='3'/></interface></devices></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := d.Format(0)
	s := string(out)
	for _, want := range []string{"<clock offset='localtime'/>", "<on_crash>restart</on_crash>",
		"<address type='drive' controller='1' bus='0' target='0' unit='0'/>",
		"<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>",
		"<controller type='ide' index='0'/>", "<controller type='ide' index='1'/>"} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "<boot dev=") {
		t.Errorf("os boot added despite per-device boot order:\n%s", s)
	}
	if !regexp.MustCompile(`<mac address='52:54:00(:[0-9a-f]{2}){3}'/>`).MatchString(s) {
		t.Errorf("no generated MAC:\n%s", s)
	}
}
