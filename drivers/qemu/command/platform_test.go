package command

import (
	"path/filepath"
	"strings"
	"testing"

	"govirt/conf"
)

// TestFirmwareLiveRebuild builds a guest with firmware auto-selection,
// then builds its live definition again (as a reconnect or migration
// does): the recorded loader, varstore and SMM give the same command line.
func TestFirmwareLiveRebuild(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	c := testHostCaps{cp}
	def := loadDomain(t, filepath.Join(dir, "qemuxml2argvdata", "firmware-auto-efi.xml"), "")
	first, err := Build(def, c, corpusPaths(def.Name))
	if err != nil {
		t.Fatal(err)
	}
	live, err := def.Format(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>",
		"<nvram template='/usr/share/OVMF/OVMF_VARS.secboot.fd'>/var/lib/libvirt/qemu/nvram/fedora_VARS.fd</nvram>",
		"<smm state='on'/>"} {
		if !strings.Contains(string(live), want) {
			t.Errorf("live XML lacks %s:\n%s", want, live)
		}
	}
	again, err := conf.ParseDomain(live, 0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(again, c, corpusPaths(def.Name))
	if err != nil {
		t.Fatalf("rebuilding the live definition: %v", err)
	}
	if a, b := formatArgs(first), formatArgs(second); a != b {
		t.Errorf("live rebuild differs:\n%s", unifiedDiff(a, b))
	}
}

// TestPlatformHostileInputs builds definitions with malformed or hostile
// platform settings: each is refused with an error, none panics or hangs.
func TestPlatformHostileInputs(t *testing.T) {
	base := `<domain type='qemu'><name>h</name><memory unit='KiB'>262144</memory>%s
<os><type arch='x86_64' machine='pc'>hvm</type>%s</os>%s<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>%s</devices></domain>`
	cases := []struct{ top, os, after, devs string }{
		{top: `<vcpu cpuset='0-4294967295'>1</vcpu>`},
		{top: `<vcpu cpuset='^'>1</vcpu>`},
		{top: `<vcpu>2</vcpu><cputune><vcpupin vcpu='7' cpuset='0'/></cputune>`},
		{top: `<vcpu>1</vcpu><memoryBacking><hugepages><page size='18446744073709551615' unit='GiB'/></hugepages></memoryBacking>`},
		{top: `<vcpu>1</vcpu><memoryBacking><hugepages><page size='x'/></hugepages></memoryBacking>`},
		{top: `<vcpu>1</vcpu><memoryBacking><hugepages><page size='2048' nodeset='5'/></hugepages></memoryBacking>`},
		{top: `<vcpu>1</vcpu><numatune><memnode cellid='9' nodeset='0'/></numatune>`},
		{top: `<vcpu>1</vcpu><iothreads>99999999999</iothreads>`},
		{top: `<vcpu>1</vcpu><iothreadids><iothread id='0'/></iothreadids>`},
		{top: `<vcpu>1</vcpu>`, after: `<cpu><numa><cell id='0' cpus='0' memory='x'/></numa></cpu>`},
		{top: `<vcpu>1</vcpu>`, after: `<cpu><numa><cell id='0' cpus='0' memory='1024'><distances><sibling id='7' value='20'/></distances></cell></numa></cpu>`},
		{top: `<vcpu>1</vcpu>`, after: `<cpu><numa><cell id='0' cpus='0' memory='1024'/><interconnects><latency initiator='0' target='3' type='access' value='5'/></interconnects></numa></cpu>`},
		{top: `<vcpu>1</vcpu>`, after: `<cpu><numa><cell id='0' cpus='0' memory='1024'><cache level='1' associativity='x' policy='none'><size value='1'/></cache></cell></numa></cpu>`},
		{top: `<vcpu>1</vcpu>`, after: `<features><hyperv><spinlocks state='on' retries='1'/></hyperv></features>`},
		{top: `<vcpu>1</vcpu>`, after: `<features><hyperv><vendor_id state='on' value='a,b'/></hyperv></features>`},
		{top: `<vcpu>1</vcpu>`, after: `<features><kvm><dirty-ring state='on' size='3'/></kvm></features>`},
		{top: `<vcpu>1</vcpu>`, after: `<features><smm state='on'><tseg unit='KiB'>7</tseg></smm></features>`},
		{top: `<vcpu>1</vcpu>`, after: `<features><tcg><tb-cache unit='KiB'>5</tb-cache></tcg></features>`},
		{top: `<vcpu>1</vcpu>`, os: `<loader type='pflash' stateless='yes'>/x</loader><nvram>/y</nvram>`},
		{top: `<vcpu>1</vcpu>`, os: `<nvram type='network'><source protocol='nbd' name='x'/></nvram>`},
		{top: `<vcpu>1</vcpu>`, after: `<launchSecurity type='sev'><policy>zz</policy></launchSecurity>`},
		{top: `<vcpu>1</vcpu>`, devs: `<tpm model='tpm-tis'><backend type='bogus'/></tpm>`},
		{top: `<vcpu>1</vcpu>`, devs: `<memory model='dimm'><target><size unit='KiB'>131072</size></target></memory>`},
		{top: `<vcpu>1</vcpu>`, devs: `<iommu model='intel'><driver aw_bits='x'/></iommu>`},
		{top: `<vcpu>1</vcpu>`, after: `<clock offset='absolute' start='x'/>`},
	}
	for i, c := range cases {
		doc := []byte(sprintf4(base, c.top, c.os, c.after, c.devs))
		def, err := conf.ParseDomain(doc, 0)
		if err != nil {
			continue // refused by the parser already
		}
		if _, err := Build(def, qemu72(), goldenPaths("h")); err == nil {
			t.Errorf("case %d accepted: %s", i, doc)
		}
	}
}

func sprintf4(f string, a, b, c, d string) string {
	for _, v := range []string{a, b, c, d} {
		f = strings.Replace(f, "%s", v, 1)
	}
	return f
}

// TestTPMLiveRecord checks the live definition of an emulated TPM gets
// libvirt's alias and the version chosen for it.
func TestTPMLiveRecord(t *testing.T) {
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>t</name><memory unit='KiB'>262144</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<tpm model='tpm-crb'><backend type='emulator'/></tpm></devices></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	p := goldenPaths("t")
	p.SwtpmSocket = "/run/t/swtpm.sock"
	h := SystemHost()
	h.SwtpmVersions = func() []string { return []string{"2.0"} }
	p.Host = &h
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Swtpm == nil || cl.Swtpm.Version != "2.0" || cl.Swtpm.Socket != p.SwtpmSocket {
		t.Errorf("swtpm to start: %+v", cl.Swtpm)
	}
	live, _ := def.Format(0)
	for _, want := range []string{"<backend type='emulator' version='2.0'", "<alias name='tpm0'/>"} {
		if !strings.Contains(string(live), want) {
			t.Errorf("live XML lacks %s:\n%s", want, live)
		}
	}
}

// TestSmbiosEmptyTables: KubeVirt's <sysinfo> carries empty <bios>,
// <baseBoard> and <chassis> and empty entries; libvirt's parser drops
// them, so the only table is type 1, and two empty boards are no error.
func TestSmbiosEmptyTables(t *testing.T) {
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	xml := `<domain type='qemu'><name>kv</name><uuid>5b8e2f4a-3c1d-4e6f-8a9b-0c1d2e3f4a5b</uuid><memory unit='KiB'>262144</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type><smbios mode='sysinfo'/></os>
<sysinfo type='smbios'><system><entry name='uuid'>5b8e2f4a-3c1d-4e6f-8a9b-0c1d2e3f4a5b</entry><entry name='manufacturer'>KubeVirt</entry>
<entry name='sku'></entry><entry name='version'></entry></system><bios></bios><baseBoard></baseBoard><baseBoard/><chassis></chassis></sysinfo>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`
	def, err := conf.ParseDomain([]byte(xml), 0)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := Build(def, testHostCaps{cp}, corpusPaths(def.Name))
	if err != nil {
		t.Fatal(err)
	}
	var smbios []string
	for i, a := range cl.Argv {
		if a == "-smbios" {
			smbios = append(smbios, cl.Argv[i+1])
		}
	}
	if want := "type=1,manufacturer=KubeVirt,uuid=5b8e2f4a-3c1d-4e6f-8a9b-0c1d2e3f4a5b"; len(smbios) != 1 || smbios[0] != want {
		t.Errorf("-smbios %q, want only %q", smbios, want)
	}
}
