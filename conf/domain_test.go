package conf

import (
	"errors"
	"strings"
	"testing"

	"govirt/virerr"
)

const minimalDomain = `<domain type='kvm'>
  <name>vm1</name>
  <memory unit='MiB'>512</memory>
  <vcpu current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/vm1.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <unknownchild foo='bar'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:11:22:33'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>
    <graphics type='vnc' port='-1' autoport='yes' passwd='secret'/>
  </devices>
</domain>`

func mustParse(t *testing.T, s string, flags ParseFlags) *Domain {
	t.Helper()
	d, err := ParseDomain([]byte(s), flags)
	if err != nil {
		t.Fatalf("ParseDomain: %v", err)
	}
	return d
}

func mustFormat(t *testing.T, d *Domain, flags FormatFlags) string {
	t.Helper()
	out, err := d.Format(flags)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	return string(out)
}

func TestDomainDefaults(t *testing.T) {
	d := mustParse(t, minimalDomain, 0)
	if d.UUID.IsZero() {
		t.Error("uuid not generated")
	}
	if d.Memory != 512*1024 || d.CurrentMemory != d.Memory {
		t.Errorf("memory %d current %d", d.Memory, d.CurrentMemory)
	}
	if d.VCPUs != 2 || d.CurrentVCPUs != 1 {
		t.Errorf("vcpus %d current %d", d.VCPUs, d.CurrentVCPUs)
	}
	if d.ID != -1 {
		t.Errorf("id %d, want -1", d.ID)
	}
	out := mustFormat(t, d, 0)
	for _, want := range []string{"<memory unit='KiB'>524288</memory>",
		"<currentMemory unit='KiB'>524288</currentMemory>",
		"<uuid>" + d.UUID.String() + "</uuid>", "<unknownchild foo='bar'/>", "<hostdev mode='subsystem'"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The generated uuid is kept across a round trip.
	if d2 := mustParse(t, out, 0); d2.UUID != d.UUID {
		t.Error("uuid changed on re-parse")
	}
}

func TestMemoryUnits(t *testing.T) {
	cases := []struct {
		unit string
		val  string
		kib  uint64
	}{
		{"", "1024", 1024}, {"KiB", "7", 7}, {"k", "7", 7}, {"KB", "1024", 1000},
		{"MiB", "1", 1024}, {"M", "2", 2048}, {"MB", "1", 977}, {"GiB", "1", 1 << 20},
		{"G", "1", 1 << 20}, {"GB", "1", 976563}, {"TiB", "1", 1 << 30}, {"T", "1", 1 << 30},
		{"b", "1000", 1}, {"bytes", "2048", 2}, {"byte", "1", 1},
	}
	for _, c := range cases {
		unit := ""
		if c.unit != "" {
			unit = " unit='" + c.unit + "'"
		}
		d := mustParse(t, "<domain type='qemu'><name>m</name><memory"+unit+">"+c.val+"</memory></domain>", 0)
		if d.Memory != c.kib {
			t.Errorf("%s %s: got %d KiB, want %d", c.val, c.unit, d.Memory, c.kib)
		}
	}
}

func wantCode(t *testing.T, err error, dom virerr.Domain, code virerr.Code, substr string) {
	t.Helper()
	var ve *virerr.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *virerr.Error", err, err)
	}
	if ve.Code != code || ve.Domain != dom || !strings.Contains(ve.Message, substr) {
		t.Errorf("got code %d domain %d %q; want code %d domain %d containing %q", ve.Code, ve.Domain, ve.Message, code, dom, substr)
	}
}

func TestParseErrors(t *testing.T) {
	// Documents that are not well-formed: libvirt reports VIR_ERR_XML_DETAIL.
	_, err := ParseDomain([]byte("<domain><name>x</name>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLDetail, "(domain_definition):1: Premature end of data in tag domain line 1")
	_, err = ParseDomain([]byte("<domain type='qemu'><memory>1</memory></domain>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrNoName, "missing name")
	_, err = ParseDomain([]byte("<domain><name>x</name><memory unit='KiB'>lots</memory></domain>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLError, "memory")
	_, err = ParseDomain([]byte("<domain><name>x</name><memory unit='furlong'>1</memory></domain>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLError, "furlong")
	_, err = ParseDomain([]byte("<domain><name>x</name><uuid>not-a-uuid</uuid></domain>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrInternalError, "malformed uuid element")
	_, err = ParseDomain([]byte("<network><name>x</name></network>"), 0)
	wantCode(t, err, virerr.FromXML, virerr.ErrXMLError, "expecting root element of 'domain'")
	_, err = ParseNetwork([]byte("<network><name>x</network>"), 0)
	wantCode(t, err, virerr.FromNetwork, virerr.ErrXMLDetail, "")
	_, err = ParseStoragePool([]byte("<pool type='dir'"), 0)
	wantCode(t, err, virerr.FromStorage, virerr.ErrXMLDetail, "")
	_, err = ParseStorageVolume([]byte("<volume><capacity>1</capacity></volume>"), 0)
	wantCode(t, err, virerr.FromStorage, virerr.ErrXMLError, "missing volume name element")
	_, err = ParseDomainSnapshot([]byte("<domainsnapshot><name>s</domainsnapshot>"), 0)
	wantCode(t, err, virerr.FromDomainSnapshot, virerr.ErrXMLDetail, "")
}

func TestValidate(t *testing.T) {
	valid := strings.Replace(minimalDomain, "<unknownchild foo='bar'/>", "", 1)
	if _, err := ParseDomain([]byte(valid), ParseValidate); err != nil {
		t.Fatalf("valid domain rejected: %v", err)
	}
	_, err := ParseDomain([]byte(minimalDomain), ParseValidate)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLInvalidSchema, "unknownchild")
	bogus := strings.Replace(valid, "<emulator>", "<bogus/><emulator>", 1)
	_, err = ParseDomain([]byte(bogus), ParseValidate)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLInvalidSchema, "bogus")
	// Without the flag the unknown element is kept.
	if out := mustFormat(t, mustParse(t, bogus, 0), 0); !strings.Contains(out, "<bogus/>") {
		t.Error("unknown element dropped without ParseValidate")
	}
	badAttr := strings.Replace(valid, "<disk type='file'", "<disk flavour='x' type='file'", 1)
	_, err = ParseDomain([]byte(badAttr), ParseValidate)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLInvalidSchema, "flavour")
	_, err = ParseNetwork([]byte("<network><name>n</name><bogus/></network>"), ParseValidate)
	wantCode(t, err, virerr.FromNetwork, virerr.ErrXMLInvalidSchema, "bogus")
}

func TestMetadataPreserved(t *testing.T) {
	in := `<domain type='qemu'><name>m</name><metadata>
    <app1:foo xmlns:app1="http://app1.org/app1/" a='1'>fooish<app1:bar/></app1:foo>
    <bar xmlns="http://app2.org/"><x y="&lt;&amp;"/>text</bar>
  </metadata></domain>`
	d := mustParse(t, in, 0)
	out := mustFormat(t, d, 0)
	miss, err := missingItems([]byte(in), []byte(out))
	if err != nil || len(miss) > 0 {
		t.Fatalf("metadata lost: %v %v\n%s", err, miss, out)
	}
	// libvirt writes <metadata> with libxml2: double quotes.
	if !strings.Contains(out, `xmlns:app1="http://app1.org/app1/"`) {
		t.Errorf("namespace declaration not kept:\n%s", out)
	}
}

func TestIDAndSecrets(t *testing.T) {
	live := strings.Replace(minimalDomain, "<domain type='kvm'>", "<domain type='kvm' id='7'>", 1)
	d := mustParse(t, live, ParseLive)
	if d.ID != 7 {
		t.Fatalf("id %d", d.ID)
	}
	if out := mustFormat(t, d, 0); !strings.Contains(out, "id='7'") || strings.Contains(out, "passwd") {
		t.Errorf("live format wrong:\n%s", out)
	}
	out := mustFormat(t, d, FormatInactive|FormatSecure)
	if strings.Contains(out, "id='7'") || !strings.Contains(out, "passwd='secret'") {
		t.Errorf("inactive secure format wrong:\n%s", out)
	}
	if d := mustParse(t, live, 0); d.ID != -1 {
		t.Errorf("id read without ParseLive: %d", d.ID)
	}
}

func TestDeviceAddRemove(t *testing.T) {
	d := mustParse(t, minimalDomain, 0)
	dev, err := ParseDevice([]byte(`<disk type='file' device='cdrom'><source file='/iso/a.iso'/><target dev='sdb' bus='sata'/><readonly/><mystery/></disk>`))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddDevice(dev); err != nil {
		t.Fatal(err)
	}
	if err := d.AddDevice(dev.(*Disk).Clone()); err == nil {
		t.Error("duplicate target accepted")
	}
	if err := d.RemoveDevice(&Interface{MAC: "52:54:00:11:22:33"}); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveDevice(&Interface{MAC: "52:54:00:11:22:33"}); err == nil {
		t.Error("removing a missing device succeeded")
	}
	d.Devices.Disks[0].Source.Path = "/new/path.qcow2"
	d.Devices.Disks[0].Address = Address{Type: "pci", Slot: 4}
	raw, err := ParseDevice([]byte(`<sound model='ich9'/>`))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddDevice(raw); err != nil {
		t.Fatal(err)
	}
	out := mustFormat(t, d, 0)
	d2 := mustParse(t, out, 0)
	if len(d2.Devices.Disks) != 2 || len(d2.Devices.Interfaces) != 0 {
		t.Fatalf("disks %d interfaces %d:\n%s", len(d2.Devices.Disks), len(d2.Devices.Interfaces), out)
	}
	cd := d2.DiskByTarget("sdb")
	if cd == nil || !cd.ReadOnly || cd.Device != "cdrom" || cd.Source.Path != "/iso/a.iso" {
		t.Fatalf("cdrom lost: %+v", cd)
	}
	for _, want := range []string{"<mystery/>", "<unknownchild foo='bar'/>", "file='/new/path.qcow2'",
		"<address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>", "<sound model='ich9'/>"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err := d2.RemoveDevice(raw); err != nil {
		t.Errorf("remove raw: %v", err)
	}
	if out2 := mustFormat(t, d2, 0); out2 == out || strings.Contains(out2, "<sound") {
		t.Error("raw device not removed")
	}
}

func TestCloneIndependent(t *testing.T) {
	d := mustParse(t, minimalDomain, 0)
	before := mustFormat(t, d, FormatSecure)
	c := d.Clone()
	c.Name = "other"
	c.Devices.Disks[0].TargetDev = "vdz"
	c.Devices.Disks[0].x.attrs[0].value = "block"
	c.x.kids[0].kids[0].text = "changed"
	c.OS.Boot[0] = "cdrom"
	if after := mustFormat(t, d, FormatSecure); after != before {
		t.Errorf("clone shares state with original")
	}
}

func TestInactiveAndTypeChange(t *testing.T) {
	in := strings.Replace(minimalDomain, "<target dev='vda' bus='virtio'/>", "<target dev='vda' bus='virtio'/><alias name='virtio-disk0'/>", 1)
	in = strings.Replace(in, "<model type='virtio'/>", "<model type='virtio'/><alias name='ua-net'/>", 1)
	d := mustParse(t, in, 0)
	out := mustFormat(t, d, FormatInactive)
	if strings.Contains(out, "virtio-disk0") || !strings.Contains(out, "ua-net") {
		t.Errorf("inactive aliases wrong:\n%s", out)
	}
	if !strings.Contains(mustFormat(t, d, 0), "virtio-disk0") {
		t.Error("live alias dropped")
	}
	disk := d.DiskByTarget("vda")
	disk.Source.Type, disk.Source.Path = "block", "/dev/sdz"
	out = mustFormat(t, d, 0)
	if !strings.Contains(out, "<source dev='/dev/sdz'/>") || strings.Contains(out, "vm1.qcow2") {
		t.Errorf("type change not reflected:\n%s", out)
	}
}

func TestStructuralChecks(t *testing.T) {
	dom := func(dev string) []byte {
		return []byte("<domain type='qemu'><name>x</name><devices>" + dev + "</devices></domain>")
	}
	_, err := ParseDomain(dom("<interface type='user'><address type='pci' domain='0x0000' bus='0x00' slot='0x20' function='0x0'/></interface>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLError, "Invalid PCI address slot='0x20', must be <= 0x1F")
	_, err = ParseDomain(dom("<controller type='pci' index='-1' model='pci-bridge'/>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLError, "Expected non-negative value")
	_, err = ParseDomain(dom("<tpm model='tpm-tis'/>"), 0)
	wantCode(t, err, virerr.FromDomain, virerr.ErrXMLError, "missing TPM device backend")
	if _, err := ParseDomain(dom("<input type='tablet' bus='usb'><address type='usb' bus='0' port='1.2.3.4'/></input>"), 0); err != nil {
		t.Errorf("valid usb port rejected: %v", err)
	}
}
