package conf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govirt/uuid"
)

// schemaValid checks doc against a corpus schema when xmllint and the
// corpus are available.
func schemaValid(t *testing.T, schema string, doc []byte) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	rng := filepath.Join(corpusRoot(), "schemas", schema)
	if _, serr := os.Stat(rng); err != nil || serr != nil {
		t.Log("xmllint or schemas unavailable; schema check skipped")
		return
	}
	f := filepath.Join(t.TempDir(), "doc.xml")
	os.WriteFile(f, doc, 0o644)
	if out, err := exec.Command(xmllint, "--noout", "--relaxng", rng, f).CombinedOutput(); err != nil {
		t.Errorf("%s rejects our output: %s\n%s", schema, out, doc)
	}
}

func TestMutatedDomainValidates(t *testing.T) {
	d := mustParse(t, strings.Replace(minimalDomain, "<unknownchild foo='bar'/>", "", 1), 0)
	d.Devices.Disks = append(d.Devices.Disks, &Disk{Device: "cdrom", Source: DiskSource{Type: "file", Path: "/a.iso", Format: "raw"},
		DriverName: "qemu", TargetDev: "sda", TargetBus: "sata", ReadOnly: true, Address: Address{Type: "drive", Unit: 1}})
	d.Devices.Serials = append(d.Devices.Serials, &Chardev{Type: "pty", TargetPort: 0})
	d.Devices.Consoles = append(d.Devices.Consoles, &Chardev{Type: "pty", TargetType: "serial"})
	d.Devices.Controllers = append(d.Devices.Controllers, &Controller{Type: "usb", Index: 0, Model: "qemu-xhci"})
	d.Devices.MemBalloon = &MemBalloon{Model: "virtio", Period: 5}
	d.Devices.Interfaces = nil
	d.CPU = &CPU{Mode: "host-passthrough", Sockets: 1, Dies: 1, Cores: 2, Threads: 1}
	d.Features = []string{"acpi", "apic"}
	d.OnCrash = "destroy"
	d.OS.Boot = []string{"cdrom", "hd"}
	d.MaxMemory, d.MaxMemSlots = 4<<20, 16
	out := mustFormat(t, d, 0)
	schemaValid(t, "domain.rng", []byte(out))
	fixedPoint(t, d, func(b []byte) (formatter, error) { return ParseDomain(b, 0) })
	built := &Domain{Type: "qemu", Name: "scratch", UUID: uuid.New(), Memory: 1024, VCPUs: 1, ID: -1,
		OS: OS{Type: "hvm", Arch: "x86_64"}, Devices: Devices{Emulator: "/bin/qemu",
			Disks: []*Disk{{Source: DiskSource{Type: "file", Path: "/x.img"}, TargetDev: "vda", TargetBus: "virtio"}}}}
	b, _ := built.Format(0)
	schemaValid(t, "domain.rng", b)
}

func TestNetworkRoundTrip(t *testing.T) {
	n, err := ParseNetwork([]byte(`<network><name>default</name><forward/><bridge name='virbr0'/>
<ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.ForwardMode != "nat" || n.BridgeName != "virbr0" || len(n.IPs) != 1 || n.IPs[0].DHCPEnd != "192.168.122.254" || n.UUID.IsZero() {
		t.Fatalf("parsed %+v", n)
	}
	c := n.Clone()
	c.IPs[0].DHCPHosts = append(c.IPs[0].DHCPHosts, &NetworkDHCPHost{MAC: "52:54:00:00:00:01", Name: "a", IP: "192.168.122.9"})
	c.IPs = append(c.IPs, &NetworkIP{Family: "ipv6", Address: "2001:db8::1", Prefix: 64})
	c.Domain = "example.org"
	out, _ := c.Format(0)
	schemaValid(t, "network.rng", out)
	for _, want := range []string{"<host mac='52:54:00:00:00:01' name='a' ip='192.168.122.9'/>", "prefix='64'", "<domain name='example.org'/>"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if orig, _ := n.Format(0); strings.Contains(string(orig), "ipv6") {
		t.Error("clone shares IPs with original")
	}
}

func TestStorageRoundTrip(t *testing.T) {
	p, err := ParseStoragePool([]byte(`<pool type='dir'><name>p</name><capacity unit='GiB'>2</capacity><target><path>/srv</path></target></pool>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Capacity != 2<<30 || p.TargetPath != "/srv" {
		t.Fatalf("parsed %+v", p)
	}
	p.Available = 1000
	out, _ := p.Format(0)
	if !strings.Contains(string(out), "<capacity unit='bytes'>2147483648</capacity>") || !strings.Contains(string(out), "<available unit='bytes'>1000</available>") {
		t.Errorf("pool output:\n%s", out)
	}
	schemaValid(t, "storagepool.rng", out)
	v, err := ParseStorageVolume([]byte(`<volume><name>v.qcow2</name><capacity unit='M'>5</capacity><target><format type='qcow2'/></target></volume>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Capacity != 5<<20 || v.TargetFormat != "qcow2" {
		t.Fatalf("parsed %+v", v)
	}
	v.BackingPath, v.BackingFormat, v.TargetPath = "/base.img", "raw", "/pool/v.qcow2"
	out, _ = v.Format(0)
	schemaValid(t, "storagevol.rng", out)
}

func TestSnapshotRoundTrip(t *testing.T) {
	in := `<domainsnapshot><description>before upgrade</description><memory snapshot='no'/>
<disks><disk name='vda' snapshot='external'><driver type='qcow2'/><source file='/s.qcow2'/></disk></disks>
` + strings.Replace(minimalDomain, "<unknownchild foo='bar'/>", "", 1) + `</domainsnapshot>`
	s, err := ParseDomainSnapshot([]byte(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name == "" || s.CreationTime == 0 || s.Domain == nil || s.Domain.Name != "vm1" || len(s.Disks) != 1 || s.Disks[0].SourceFile != "/s.qcow2" {
		t.Fatalf("parsed %+v", s)
	}
	s.Parent = "base"
	s.Domain.Description = "inner"
	out, _ := s.Format(FormatSecure)
	schemaValid(t, "domainsnapshot.rng", out)
	s2, err := ParseDomainSnapshot(out, 0)
	if err != nil || s2.Parent != "base" || s2.Domain.Description != "inner" || s2.Name != s.Name {
		t.Fatalf("re-parse %v %+v", err, s2)
	}
	c := s2.Clone()
	c.Domain.Name = "x"
	c.Disks[0].Name = "vdb"
	if out2, _ := s2.Format(FormatSecure); string(out2) != string(out) {
		t.Error("snapshot clone shares state")
	}
}

func TestCapabilitiesFormat(t *testing.T) {
	c := &Capabilities{
		Host: CapsHost{UUID: uuid.New(), CPU: CapsHostCPU{Arch: "x86_64", Model: "Skylake-Client", Vendor: "Intel",
			Sockets: 1, Cores: 2, Threads: 2, Features: []string{"vmx"}, Pages: []uint64{4, 2048}},
			PowerMgmt: []string{"suspend_mem"}, MigrationLive: true, URITransports: []string{"tcp", "rdma"},
			Cells:     []CapsCell{{ID: 0, MemoryKiB: 1 << 20, CPUs: []CapsCPU{{ID: 0, Siblings: "0"}}}},
			SecModels: []CapsSecModel{{Model: "none", DOI: "0"}}},
		Guests: []CapsGuest{{OSType: "hvm", Arch: "x86_64", WordSize: 64, Emulator: "/usr/bin/qemu-system-x86_64",
			Machines: []CapsMachine{{Name: "pc-q35-7.2", MaxCPUs: 288}, {Name: "q35", Canonical: "pc-q35-7.2", MaxCPUs: 288}},
			Domains:  []string{"qemu", "kvm"}, Features: []CapsFeature{{Name: "acpi", Default: "on", Toggle: true}, {Name: "cpuselection"}}}},
	}
	out, _ := c.Format()
	schemaValid(t, "capability.rng", out)
}
