package qemu

import (
	"strings"
	"testing"

	"govirt/conf"
	"govirt/virerr"
)

// libvirtPerformCookie is a cookie as libvirtd 9.0's Perform step writes
// it for virsh migrate --persistent (nop lock manager: the lockstate
// feature without an element), with the statistics Finish reads.
const libvirtPerformCookie = `<qemu-migration>
  <name>lv1</name>
  <uuid>7d82a4e8-4dd5-4461-beb8-262d8214996d</uuid>
  <hostname>otherhost</hostname>
  <hostuuid>5b0c1f9e-7d3a-4e2b-9c8f-1a2b3c4d5e6f</hostuuid>
  <feature name='lockstate'/>
  <feature name='persistent'/>
  <domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
    <name>lv1</name>
    <uuid>7d82a4e8-4dd5-4461-beb8-262d8214996d</uuid>
    <memory unit='KiB'>131072</memory>
    <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
  </domain>
  <nbd port='49153'>
    <disk target='vda' capacity='67108864'/>
  </nbd>
  <statistics>
    <started>1</started>
    <stopped>2</stopped>
  </statistics>
  <capabilities>
    <cap name='xbzrle' auto='no'/>
    <cap name='pause-before-switchover' auto='yes'/>
  </capabilities>
</qemu-migration>
` + "\x00"

func TestCookieFromLibvirtd(t *testing.T) {
	ck, err := parseCookie([]byte(libvirtPerformCookie))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Name != "lv1" || ck.HostUUID != "5b0c1f9e-7d3a-4e2b-9c8f-1a2b3c4d5e6f" || ck.Hostname != "otherhost" {
		t.Errorf("header %+v", ck)
	}
	if ck.NBD == nil || ck.NBD.Port != 49153 || len(ck.NBD.Disks) != 1 || ck.NBD.Disks[0].Capacity != 1<<26 {
		t.Errorf("nbd %+v", ck.NBD)
	}
	// The persistent definition is the <domain> element itself, which
	// the destination defines (persistMigrated parses it).
	def, err := parseDef(ck.PersistentXML, false)
	if err != nil || def.Name != "lv1" || !strings.HasPrefix(ck.PersistentXML, "<domain type='qemu'") {
		t.Fatalf("persistent %q: %v", ck.PersistentXML, err)
	}
	if err := checkCookieDomain(ck, "lv1", "7d82a4e8-4dd5-4461-beb8-262d8214996d"); err != nil {
		t.Error(err)
	}
	if err := checkCookieDomain(ck, "lv2", "7d82a4e8-4dd5-4461-beb8-262d8214996d"); err == nil ||
		!strings.Contains(err.Error(), "Incoming cookie data had unexpected name lv1 vs lv2") {
		t.Errorf("other name: %v", err)
	}
}

// TestCookieRefusals: libvirt's errors for what it refuses in a cookie.
func TestCookieRefusals(t *testing.T) {
	cases := []struct{ edit, want string }{
		{"<hostuuid>5b0c1f9e-7d3a-4e2b-9c8f-1a2b3c4d5e6f</hostuuid>", "missing hostuuid element in migration data"},
		{"<name>lv1</name>", "missing name element in migration data"},
		{"<feature name='lockstate'/>", ""},
		{"<feature name='persistent'/>", "<feature name='teleport'/>"},
	}
	for _, c := range cases {
		doc := strings.Replace(libvirtPerformCookie, c.edit, "", 1)
		want := c.want
		if strings.HasPrefix(want, "<feature") {
			doc = strings.Replace(libvirtPerformCookie, c.edit, want, 1)
			want = "Unknown migration cookie feature teleport"
		}
		_, err := parseCookie([]byte(doc))
		switch {
		case want == "" && err != nil:
			t.Errorf("without %s: %v", c.edit, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || virerr.CodeOf(err) != virerr.ErrInternalError):
			t.Errorf("without %s: %v, want %q", c.edit, err, want)
		}
	}
	two := strings.Replace(libvirtPerformCookie, "  <nbd", "  <domain><name>x</name></domain>\n  <nbd", 1)
	if _, err := parseCookie([]byte(two)); err == nil || !strings.Contains(err.Error(), "Too many domain elements in migration cookie") {
		t.Errorf("two domains: %v", err)
	}
}

// TestCookieForLibvirtd: what govirt writes has what libvirtd's parser
// requires, and Perform's definition is a bare <domain> announced by the
// persistent feature, as libvirt's.
func TestCookieForLibvirtd(t *testing.T) {
	d := &Driver{}
	v := newVM(&conf.Domain{Name: "g"}, false)
	pxml := "<domain type='qemu'>\n  <name>g</name>\n</domain>\n"
	b := d.makeCookie(v, pxml)
	if b[len(b)-1] != 0 {
		t.Error("cookie not NUL-terminated")
	}
	s := string(b[:len(b)-1])
	for _, want := range []string{"<name>g</name><uuid>", "<hostname>", "<hostuuid>" + d.hostUUID().String() + "</hostuuid>",
		`<feature name="persistent"></feature><domain type='qemu'>`, "</domain>\n</qemu-migration>"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in %s", want, s)
		}
	}
	ck, err := parseCookie(b)
	if err != nil || ck.PersistentXML != strings.TrimSpace(pxml) {
		t.Fatalf("round trip: %q %v", ck.PersistentXML, err)
	}
	if ck, _ := parseCookie(d.makeCookie(v, "")); len(ck.Features) != 0 || ck.PersistentXML != "" {
		t.Errorf("cookie without a definition: %+v", ck)
	}
}
