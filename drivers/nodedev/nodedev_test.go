package nodedev

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"govirt/virerr"
)

func TestFakeHostList(t *testing.T) {
	_, m := newFakeHost(t)
	got, err := m.ListAllNodeDevices(0)
	if err != nil {
		t.Fatal(err)
	}
	wantSet := []string{"computer", "drm_card0", "drm_renderD128", "pci_0000_00_10_0", "pci_0000_00_1c_0",
		"usb_1_1", "usb_1_1_1_0", "pci_0000_00_1f_0", "net_eth0_00_1b_21_aa_bb_cc",
		"scsi_host0", "scsi_target0_0_0", "scsi_0_0_0_0", "block_sr0_QEMU_DVD_ROM_QM00001", "scsi_generic_sg0"}
	if strings.Join(sorted(got), " ") != strings.Join(sorted(wantSet), " ") {
		t.Fatalf("devices:\n got %v\nwant %v", sorted(got), sorted(wantSet))
	}
	pos := map[string]int{}
	for i, n := range got {
		pos[n] = i
	}
	for _, d := range m.scan() {
		if d.Parent != "" && pos[d.Parent] > pos[d.Name] {
			t.Errorf("%s listed before its parent %s", d.Name, d.Parent)
		}
	}
	parents := map[string]string{}
	for _, d := range m.scan() {
		parents[d.Name] = d.Parent
	}
	for n, p := range map[string]string{"computer": "", "net_eth0_00_1b_21_aa_bb_cc": "pci_0000_00_1f_0",
		"usb_1_1": "computer", "usb_1_1_1_0": "usb_1_1", "scsi_0_0_0_0": "scsi_target0_0_0",
		"block_sr0_QEMU_DVD_ROM_QM00001": "scsi_0_0_0_0", "scsi_generic_sg0": "scsi_0_0_0_0", "drm_card0": "computer"} {
		if parents[n] != p {
			t.Errorf("parent of %s = %q, want %q", n, parents[n], p)
		}
	}
	for _, c := range []struct {
		flags uint32
		want  []string
	}{
		{1 << 1, []string{"pci_0000_00_10_0", "pci_0000_00_1c_0", "pci_0000_00_1f_0"}},
		{1<<4 | 1<<12, []string{"drm_card0", "drm_renderD128", "net_eth0_00_1b_21_aa_bb_cc"}},
		{1 << 30, []string{}},
	} {
		got, err := m.ListAllNodeDevices(c.flags)
		if err != nil || !reflect.DeepEqual(sorted(got), c.want) {
			t.Errorf("ListAll(%#x) = %v, %v; want %v", c.flags, got, err, c.want)
		}
	}
	if _, err := m.ListAllNodeDevices(1 << 25); virerr.CodeOf(err) != virerr.ErrInvalidArg {
		t.Errorf("bad flags: %v", err)
	}
	if n, _ := m.NodeNumOfDevices("storage", 0); n != 1 {
		t.Errorf("storage devices: %d", n)
	}
	if l, _ := m.NodeListDevices("", 2, 0); len(l) != 2 {
		t.Errorf("maxnames 2: %v", l)
	}
}

var wantXML = map[string]string{
	"computer": `<device>
  <name>computer</name>
  <capability type='system'>
    <product>Standard PC (Q35 + ICH9, 2009)</product>
    <hardware>
      <vendor>QEMU</vendor>
      <version>pc-q35-7.2</version>
      <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
    </hardware>
    <firmware>
      <vendor>SeaBIOS</vendor>
      <version>1.16.2-debian-1.16.2-1</version>
      <release_date>04/01/2014</release_date>
    </firmware>
  </capability>
</device>
`,
	"pci_0000_00_1f_0": `<device>
  <name>pci_0000_00_1f_0</name>
  <path>/sys/devices/pci0000:00/0000:00:1f.0</path>
  <parent>computer</parent>
  <driver>
    <name>e1000e</name>
  </driver>
  <capability type='pci'>
    <class>0x020000</class>
    <domain>0</domain>
    <bus>0</bus>
    <slot>31</slot>
    <function>0</function>
    <product id='0x10d3'>82574L Gigabit Network Connection</product>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='virt_functions' maxCount='7'>
      <address domain='0x0000' bus='0x00' slot='0x10' function='0x0'/>
    </capability>
    <iommuGroup number='7'>
      <address domain='0x0000' bus='0x00' slot='0x1f' function='0x0'/>
    </iommuGroup>
    <numa node='0'/>
    <pci-express>
      <link validity='cap' port='3' speed='5' width='1'/>
      <link validity='sta' speed='2.5' width='1'/>
    </pci-express>
  </capability>
</device>
`,
	"pci_0000_00_10_0": `<device>
  <name>pci_0000_00_10_0</name>
  <path>/sys/devices/pci0000:00/0000:00:10.0</path>
  <parent>computer</parent>
  <capability type='pci'>
    <class>0x020000</class>
    <domain>0</domain>
    <bus>0</bus>
    <slot>16</slot>
    <function>0</function>
    <product id='0x10ca'>82576 Virtual Function</product>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='phys_function'>
      <address domain='0x0000' bus='0x00' slot='0x1f' function='0x0'/>
    </capability>
  </capability>
</device>
`,
	"pci_0000_00_1c_0": `<device>
  <name>pci_0000_00_1c_0</name>
  <path>/sys/devices/pci0000:00/0000:00:1c.0</path>
  <parent>computer</parent>
  <driver>
    <name>pcieport</name>
  </driver>
  <capability type='pci'>
    <class>0x060400</class>
    <domain>0</domain>
    <bus>0</bus>
    <slot>28</slot>
    <function>0</function>
    <product id='0x000c'>QEMU PCIe Root port</product>
    <vendor id='0x1b36'>Red Hat, Inc.</vendor>
    <capability type='pci-bridge'/>
  </capability>
</device>
`,
	"net_eth0_00_1b_21_aa_bb_cc": `<device>
  <name>net_eth0_00_1b_21_aa_bb_cc</name>
  <path>/sys/devices/pci0000:00/0000:00:1f.0/net/eth0</path>
  <parent>pci_0000_00_1f_0</parent>
  <capability type='net'>
    <interface>eth0</interface>
    <address>00:1b:21:aa:bb:cc</address>
    <link speed='1000' state='up'/>
    <feature name='rx'/>
    <feature name='tx'/>
    <feature name='sg'/>
    <capability type='80203'/>
  </capability>
</device>
`,
	"usb_1_1": `<device>
  <name>usb_1_1</name>
  <path>/sys/devices/pci0000:00/0000:00:1d.0/usb1/1-1</path>
  <devnode type='dev'>/dev/bus/usb/001/002</devnode>
  <parent>computer</parent>
  <capability type='usb_device'>
    <bus>1</bus>
    <device>2</device>
    <product id='0xc52b'>USB Receiver</product>
    <vendor id='0x046d'>Logitech, Inc.</vendor>
  </capability>
</device>
`,
	"usb_1_1_1_0": `<device>
  <name>usb_1_1_1_0</name>
  <path>/sys/devices/pci0000:00/0000:00:1d.0/usb1/1-1/1-1:1.0</path>
  <parent>usb_1_1</parent>
  <driver>
    <name>usbhid</name>
  </driver>
  <capability type='usb'>
    <number>0</number>
    <class>3</class>
    <subclass>1</subclass>
    <protocol>2</protocol>
  </capability>
</device>
`,
	"scsi_host0": `<device>
  <name>scsi_host0</name>
  <path>/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0</path>
  <parent>computer</parent>
  <capability type='scsi_host'>
    <host>0</host>
    <unique_id>1</unique_id>
  </capability>
</device>
`,
	"scsi_0_0_0_0": `<device>
  <name>scsi_0_0_0_0</name>
  <path>/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0</path>
  <parent>scsi_target0_0_0</parent>
  <driver>
    <name>sr</name>
  </driver>
  <capability type='scsi'>
    <host>0</host>
    <bus>0</bus>
    <target>0</target>
    <lun>0</lun>
    <type>cdrom</type>
  </capability>
</device>
`,
	"block_sr0_QEMU_DVD_ROM_QM00001": `<device>
  <name>block_sr0_QEMU_DVD_ROM_QM00001</name>
  <path>/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sr0</path>
  <devnode type='dev'>/dev/sr0</devnode>
  <devnode type='link'>/dev/cdrom</devnode>
  <devnode type='link'>/dev/disk/by-id/ata-QEMU_DVD-ROM_QM00001</devnode>
  <parent>scsi_0_0_0_0</parent>
  <capability type='storage'>
    <block>/dev/sr0</block>
    <bus>ata</bus>
    <drive_type>cdrom</drive_type>
    <model>QEMU DVD-ROM</model>
    <vendor>QEMU</vendor>
    <serial>QEMU_DVD-ROM_QM00001</serial>
    <capability type='removable'>
      <media_available>0</media_available>
      <media_size>0</media_size>
    </capability>
  </capability>
</device>
`,
	"scsi_generic_sg0": `<device>
  <name>scsi_generic_sg0</name>
  <path>/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/scsi_generic/sg0</path>
  <devnode type='dev'>/dev/sg0</devnode>
  <parent>scsi_0_0_0_0</parent>
  <capability type='scsi_generic'>
    <char>/dev/sg0</char>
  </capability>
</device>
`,
	"drm_renderD128": `<device>
  <name>drm_renderD128</name>
  <path>/sys/devices/pci0000:00/0000:00:02.0/drm/renderD128</path>
  <devnode type='dev'>/dev/dri/renderD128</devnode>
  <parent>computer</parent>
  <capability type='drm'>
    <type>render</type>
  </capability>
</device>
`,
}

func TestFakeHostXML(t *testing.T) {
	_, m := newFakeHost(t)
	for name, want := range wantXML {
		got, err := m.NodeDeviceGetXMLDesc(name, 0)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != want {
			t.Errorf("%s:\n--- got\n%s--- want\n%s", name, got, want)
		}
	}
	caps, _ := m.NodeDeviceListCaps("pci_0000_00_1f_0", 10)
	if !reflect.DeepEqual(caps, []string{"pci"}) {
		t.Errorf("caps: %v", caps)
	}
	if p, err := m.NodeDeviceGetParent("computer"); err == nil {
		t.Errorf("computer has parent %q", p)
	}
}

// TestHostileNames: names from clients never reach the filesystem as
// paths, and every bad one is libvirt's "not found".
func TestHostileNames(t *testing.T) {
	_, m := newFakeHost(t)
	for _, n := range []string{"", ".", "..", "../../etc/passwd", "/sys/devices", "a\x00b", "computer/..", strings.Repeat("x", 10000)} {
		if _, err := m.NodeDeviceGetXMLDesc(n, 0); virerr.CodeOf(err) != virerr.ErrNoNodeDevice {
			t.Errorf("%q: %v", n, err)
		}
		if err := m.Detach(n, "", 0, func(string) string { return "" }); err == nil {
			t.Errorf("detach %q succeeded", n)
		}
	}
}

func TestDetachReattachReset(t *testing.T) {
	f, m := newFakeHost(t)
	none := func(string) string { return "" }
	// No IOMMU: libvirt's refusal before anything else.
	err := m.Detach("pci_0000_00_1f_0", "", 0, none)
	if virerr.CodeOf(err) != virerr.ErrArgumentUnsupported || !strings.Contains(err.Error(), "VFIO device assignment is currently not supported on this system") {
		t.Fatalf("detach without IOMMU: %v", err)
	}
	if err := m.Detach("pci_0000_00_1f_0", "kvm", 0, none); err == nil || !strings.Contains(err.Error(), "KVM device assignment is no longer supported") {
		t.Errorf("kvm: %v", err)
	}
	if err := m.Detach("pci_0000_00_1f_0", "xen", 0, none); err == nil || !strings.Contains(err.Error(), "unknown driver name 'xen'") {
		t.Errorf("xen: %v", err)
	}
	f.file("/dev/vfio/vfio", "")
	if err := m.Detach("computer", "", 0, none); err == nil || !strings.Contains(err.Error(), "device computer is not a PCI device") {
		t.Errorf("computer: %v", err)
	}
	if err := m.Detach("pci_0000_00_1f_0", "", 0, func(string) string { return "g1" }); err == nil || !strings.Contains(err.Error(), "is in use by driver QEMU, domain g1") {
		t.Errorf("in use: %v", err)
	}
	if err := m.Detach("pci_0000_00_1f_0", "", 0, none); err == nil || !strings.Contains(err.Error(), "Failed to load PCI stub module vfio-pci") {
		t.Errorf("no vfio-pci: %v", err)
	}
	// With vfio-pci: driver_override, unbind from e1000e, probe.
	f.file("/sys/bus/pci/drivers/vfio-pci/new_id", "")
	f.file("/sys/bus/pci/drivers/e1000e/unbind", "")
	f.link("/sys/devices/pci0000:00/0000:00:1f.0/driver", "/sys/bus/pci/drivers/e1000e")
	f.file("/sys/bus/pci/drivers_probe", "")
	f.file("/sys/devices/pci0000:00/0000:00:1f.0/driver_override", "(null)\n")
	if err := m.Detach("pci_0000_00_1f_0", "", 0, none); err != nil {
		t.Fatalf("detach: %v", err)
	}
	read := func(p string) string {
		b, _ := m.fs.readFile(p)
		return string(b)
	}
	if read("/sys/devices/pci0000:00/0000:00:1f.0/driver_override") != "vfio-pci" ||
		read("/sys/bus/pci/drivers/e1000e/unbind") != "0000:00:1f.0" || read("/sys/bus/pci/drivers_probe") != "0000:00:1f.0" {
		t.Errorf("detach did not go through driver_override, unbind and drivers_probe")
	}
	// Reattach leaves a function on its own driver alone.
	f.file("/sys/bus/pci/drivers_probe", "")
	if err := m.ReAttach("pci_0000_00_1f_0", none); err != nil || read("/sys/bus/pci/drivers_probe") != "" {
		t.Errorf("reattach of a function not on a stub: %v", err)
	}
	// Reset: a bridge is refused, FLR is enough, no method is libvirt's error.
	if err := m.Reset("pci_0000_00_1c_0", none); err == nil || !strings.Contains(err.Error(), "Only PCI endpoint devices can be reset") {
		t.Errorf("reset bridge: %v", err)
	}
	if err := m.Reset("pci_0000_00_1f_0", none); err != nil {
		t.Errorf("reset FLR device: %v", err)
	}
	if err := m.Reset("pci_0000_00_1f_0", func(string) string { return "g" }); err == nil || !strings.Contains(err.Error(), "Not resetting active device") {
		t.Errorf("reset in use: %v", err)
	}
	os.Remove(m.fs.path("/sys/devices/pci0000:00/0000:00:10.0/physfn"))
	if err := m.Reset("pci_0000_00_10_0", none); err == nil || !strings.Contains(err.Error(), "Unable to reset PCI device 0000:00:10.0: no FLR, PM reset or bus reset available") {
		t.Errorf("reset without a method: %v", err)
	}
}
