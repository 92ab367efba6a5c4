package qemu

import (
	"strings"
	"testing"

	"govirt/virerr"
)

// libvirtPrepareSpiceCookie is what libvirtd 9.0's Prepare answers for a
// guest with a SPICE display on 0.0.0.0, spice_tls on.
const libvirtPrepareSpiceCookie = `<qemu-migration>
  <name>lv1</name>
  <uuid>7d82a4e8-4dd5-4461-beb8-262d8214996d</uuid>
  <hostname>otherhost</hostname>
  <hostuuid>5b0c1f9e-7d3a-4e2b-9c8f-1a2b3c4d5e6f</hostuuid>
  <graphics type='spice' port='5901' listen='0.0.0.0' tlsPort='5902'>
    <cert info='subject' value='C=GB,O=govirt,CN=otherhost'/>
  </graphics>
  <capabilities>
    <cap name='xbzrle' auto='no'/>
  </capabilities>
</qemu-migration>
` + "\x00"

func TestCookieGraphicsFromLibvirtd(t *testing.T) {
	ck, err := parseCookie([]byte(libvirtPrepareSpiceCookie))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Graphics == nil {
		t.Fatal("no graphics")
	}
	r, err := ck.Graphics.parse()
	if err != nil {
		t.Fatal(err)
	}
	want := relocation{typ: "spice", host: "0.0.0.0", port: 5901, tlsPort: 5902, subject: "C=GB,O=govirt,CN=otherhost"}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	// --graphicsuri overrides what the cookie says.
	if err := r.override("spice://dest.example:6000?tlsPort=6001&tlsSubject=CN%3Dx"); err != nil {
		t.Fatal(err)
	}
	want = relocation{typ: "spice", host: "dest.example", port: 6000, tlsPort: 6001, subject: "CN=x"}
	if r != want {
		t.Errorf("graphicsuri: got %+v, want %+v", r, want)
	}
	if err := r.override("spice://h?tlsPort=x"); err == nil || !strings.Contains(err.Error(), "invalid tlsPort number: x") {
		t.Errorf("bad tlsPort: %v", err)
	}
	if err := r.override("foo://h"); err == nil || !strings.Contains(err.Error(), "unknown graphics type foo") {
		t.Errorf("bad type: %v", err)
	}
}

// A malformed <graphics> fails as libvirt's cookie parse.
func TestCookieGraphicsMalformed(t *testing.T) {
	for _, c := range []struct{ elem, msg string }{
		{`<graphics port='1' listen='a' tlsPort='-1'/>`, "missing type attribute in migration data"},
		{`<graphics type='x' port='1' listen='a'/>`, "unknown graphics type x"},
		{`<graphics type='spice' listen='a' tlsPort='-1'/>`, "missing port attribute in migration data"},
		{`<graphics type='spice' port='1' listen='a'/>`, "missing tlsPort attribute in migration data"},
		{`<graphics type='vnc' port='1'/>`, "missing listen attribute in migration data"},
	} {
		doc := strings.Replace(libvirtPrepareSpiceCookie, "<capabilities>", c.elem+"<capabilities>", 1)
		doc = doc[:strings.Index(doc, "  <graphics type='spice' port='5901'")] + doc[strings.Index(doc, "</graphics>")+len("</graphics>"):]
		ck, err := parseCookie([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", c.elem, err)
		}
		_, err = ck.Graphics.parse()
		if ve, ok := err.(*virerr.Error); !ok || ve.Code != virerr.ErrInternalError || !strings.HasSuffix(ve.Error(), ": "+c.msg) {
			t.Errorf("%s: %v, want %q", c.elem, err, c.msg)
		}
	}
}

// govirt's destination describes its SPICE display as libvirt's.
func TestCookieGraphicsForDestination(t *testing.T) {
	def, err := parseDef(`<domain type='qemu'><name>g</name><uuid>7d82a4e8-4dd5-4461-beb8-262d8214996d</uuid>
<memory unit='KiB'>131072</memory><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
<devices><graphics type='spice' port='5903' autoport='no'><listen type='address' address='0.0.0.0'/></graphics></devices></domain>`, false)
	if err != nil {
		t.Fatal(err)
	}
	d := &Driver{}
	v := &vm{name: "g", uuid: def.UUID, live: def}
	elem, err := d.cookieGraphicsFor(v)
	if err != nil {
		t.Fatal(err)
	}
	cookie := withCookieElem(d.makeCookie(v, ""), elem)
	ck, err := parseCookie(cookie)
	if err != nil || ck.Graphics == nil {
		t.Fatalf("%v\n%s", err, cookie)
	}
	r, err := ck.Graphics.parse()
	if want := (relocation{typ: "spice", host: "0.0.0.0", port: 5903, tlsPort: -1}); err != nil || r != want {
		t.Errorf("%s: %+v %v", elem, r, err)
	}
	// A VNC display is not described.
	def.Devices.Graphics[0].Type = "vnc"
	if elem, err := d.cookieGraphicsFor(v); err != nil || elem != nil {
		t.Errorf("vnc: %s %v", elem, err)
	}
}
