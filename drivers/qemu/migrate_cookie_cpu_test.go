package qemu

import (
	"strings"
	"testing"
)

// libvirtBeginCPUCookie is a Begin cookie of libvirtd 9.0 for a
// host-model TCG guest: its live CPU as QEMU created it.
const libvirtBeginCPUCookie = `<qemu-migration>
  <name>lv1</name>
  <uuid>7d82a4e8-4dd5-4461-beb8-262d8214996d</uuid>
  <hostname>otherhost</hostname>
  <hostuuid>5b0c1f9e-7d3a-4e2b-9c8f-1a2b3c4d5e6f</hostuuid>
  <cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>qemu64</model>
    <feature policy='require' name='x2apic'/>
    <feature policy='disable' name='svm'/>
  </cpu>
  <capabilities>
    <cap name='xbzrle' auto='no'/>
  </capabilities>
</qemu-migration>
` + "\x00"

const beginXMLCPU = `<domain type='qemu'><name>lv1</name><uuid>7d82a4e8-4dd5-4461-beb8-262d8214996d</uuid>
<memory unit='KiB'>131072</memory><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>qemu64</model><feature policy='require' name='x2apic'/></cpu>
<devices/></domain>`

// The destination starts QEMU with the cookie's CPU and keeps the XML's
// as the run's original CPU; an equal CPU changes nothing.
func TestCookieCPUDestination(t *testing.T) {
	ck, err := parseCookie([]byte(libvirtBeginCPUCookie))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ck.CPUXML, "<cpu mode='custom' match='exact' check='full'>") || !strings.HasSuffix(ck.CPUXML, "</cpu>") {
		t.Fatalf("cookie CPU %q", ck.CPUXML)
	}
	def, err := parseDef(beginXMLCPU, false)
	if err != nil {
		t.Fatal(err)
	}
	live, orig, err := cookieCPUDef(def, ck)
	if err != nil {
		t.Fatal(err)
	}
	if orig == nil || !strings.Contains(string(orig), "check='partial'") || strings.Contains(string(orig), "svm") {
		t.Errorf("original CPU %s", orig)
	}
	out, _ := live.Format(0)
	if !strings.Contains(string(out), "check='full'") || !strings.Contains(string(out), "name='svm'") {
		t.Errorf("live CPU:\n%s", out)
	}
	// The source's own XML CPU again: nothing to replace.
	ck.CPUXML = string(orig)
	if same, orig2, err := cookieCPUDef(def, ck); err != nil || orig2 != nil || same != def {
		t.Errorf("equal CPU replaced: %v %s", err, orig2)
	}
	// No <cpu> in the cookie.
	ck.CPUXML = ""
	if same, orig2, _ := cookieCPUDef(def, ck); orig2 != nil || same != def {
		t.Error("CPU replaced without a cookie CPU")
	}
}

// The source's cookie gets the live CPU only when the run has an
// original one, and parses back.
func TestCookieCPUSource(t *testing.T) {
	d := &Driver{}
	def, err := parseDef(strings.Replace(beginXMLCPU, "check='partial'", "check='full'", 1), false)
	if err != nil {
		t.Fatal(err)
	}
	v := &vm{name: "lv1", uuid: def.UUID, live: def}
	plain := d.makeCookie(v, "")
	if out, _ := withCookieCPU(v, plain); string(out) != string(plain) {
		t.Errorf("CPU without an original one:\n%s", out)
	}
	v.origCPU = []byte("<cpu mode='host-model' check='partial'/>")
	out, err := withCookieCPU(v, plain)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := parseCookie(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(ck.CPUXML, "check='full'") || !strings.Contains(ck.CPUXML, "qemu64") {
		t.Errorf("cookie CPU %q", ck.CPUXML)
	}
	if out[len(out)-1] != 0 {
		t.Error("cookie not NUL-terminated")
	}
}
