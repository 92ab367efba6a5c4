package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/virerr"
)

// TestSecretXML2XML is libvirt's secretxml2xmltest: each input (copied
// from libvirt 9.0's tests/secretxml2xmlin, LGPL test data) formats back
// to itself.
func TestSecretXML2XML(t *testing.T) {
	files, _ := filepath.Glob("testdata/secretxml2xml/*.xml")
	if len(files) == 0 {
		t.Fatal("no test data")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseSecret(data, SecretDefineValidate)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if got := s.Format(); got != string(data) {
			t.Errorf("%s: got\n%s\nwant\n%s", f, got, data)
		}
	}
}

// TestSecretParseErrors checks libvirt's messages, as libvirtd 9.0 gives
// them for virsh secret-define.
func TestSecretParseErrors(t *testing.T) {
	cases := []struct {
		xml   string
		flags uint32
		code  virerr.Code
		msg   string
	}{
		{`<secret><usage type="bogus"/></secret>`, 0, virerr.ErrConfigUnsupported, "unsupported configuration: unknown secret usage type bogus"},
		{`<secret><usage/></secret>`, 0, virerr.ErrXMLError, "XML error: unknown secret usage type"},
		{`<secret ephemeral="maybe"/>`, 0, virerr.ErrXMLError, "XML error: invalid value of 'ephemeral'"},
		{`<secret private="1"/>`, 0, virerr.ErrXMLError, "XML error: invalid value of 'private'"},
		{`<secret><uuid>zz</uuid></secret>`, 0, virerr.ErrInternalError, "internal error: malformed uuid element"},
		{`<secreta/>`, 0, virerr.ErrXMLError, "XML error: expecting root element of 'secret', not 'secreta'"},
		{`<secret><usage type='volume'/></secret>`, 0, virerr.ErrInternalError, "internal error: volume usage specified, but volume path is missing"},
		{`<secret><usage type='ceph'><volume>x</volume></usage></secret>`, 0, virerr.ErrInternalError, "internal error: Ceph usage specified, but name is missing"},
		{`<secret><usage type='iscsi'/></secret>`, 0, virerr.ErrInternalError, "internal error: iSCSI usage specified, but target is missing"},
		{`<secret><usage type='tls'/></secret>`, 0, virerr.ErrInternalError, "internal error: TLS usage specified, but name is missing"},
		{`<secret><usage type='vtpm'/></secret>`, 0, virerr.ErrInternalError, "internal error: vTPM usage specified, but name is missing"},
		{`<secret><usage type="ceph"><name>x</name></usage><foo/></secret>`, SecretDefineValidate, virerr.ErrXMLInvalidSchema,
			"XML document failed to validate against schema: Unable to validate doc against /usr/share/libvirt/schemas/secret.rng\nElement secret has extra content: foo\n"},
	}
	for _, c := range cases {
		_, err := ParseSecret([]byte(c.xml), c.flags)
		e, ok := err.(*virerr.Error)
		if !ok {
			t.Errorf("%s: got %v", c.xml, err)
			continue
		}
		if e.Code != c.code || e.Message != c.msg {
			t.Errorf("%s: got %d %q, want %d %q", c.xml, e.Code, e.Message, c.code, c.msg)
		}
	}
}

func TestSecretParseDefaults(t *testing.T) {
	s, err := ParseSecret([]byte(`<secret ephemeral='' private=''><uuid></uuid><description></description><usage type='none'/></secret>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.UUID.IsZero() || s.Description != nil || s.Ephemeral || s.Private || s.UsageType != SecretUsageNone {
		t.Fatalf("%+v", s)
	}
	s, err = ParseSecret([]byte(`<secret><description>a&lt;'"&amp;</description><usage type='volume'><volume>/p&amp;q</volume></usage></secret>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	out := s.Format()
	if !strings.Contains(out, "<description>a&lt;&apos;&quot;&amp;</description>") || !strings.Contains(out, "<volume>/p&amp;q</volume>") {
		t.Fatal(out)
	}
	back, err := ParseSecret([]byte(out), SecretDefineValidate)
	if err != nil || back.Format() != out {
		t.Fatalf("%v\n%s", err, out)
	}
}

// FuzzSecretParse: any input either fails with a libvirt error or parses
// into a definition whose formatted form parses back to the same form.
func FuzzSecretParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/secretxml2xml/*.xml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, uint32(0))
		}
	}
	f.Add([]byte(`<secret ephemeral='yes'><usage type='tls'><name>x</name></usage></secret>`), uint32(1))
	f.Add([]byte(`<secret><usage type='ceph'><name>a</name></usage><uuid>00</uuid></secret>`), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, flags uint32) {
		s, err := ParseSecret(data, flags&SecretDefineValidate)
		if err != nil {
			if _, ok := err.(*virerr.Error); !ok {
				t.Fatalf("not a libvirt error: %v", err)
			}
			return
		}
		out := s.Format()
		back, err := ParseSecret([]byte(out), 0)
		if err != nil {
			t.Fatalf("formatted form does not parse: %v\n%s", err, out)
		}
		if back.Format() != out {
			t.Fatalf("not stable:\n%s\n%s", out, back.Format())
		}
	})
}
