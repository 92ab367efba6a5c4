package nodedev

import (
	"strings"
	"testing"
)

// VPD examples of libvirt 9.0's tests/virpcivpdtest.c.
var (
	vpdStrRes  = []byte{0x82, 0x08, 0x00, 't', 'e', 's', 't', 'n', 'a', 'm', 'e'}
	vpdRFields = []byte{'P', 'N', 0x02, '4', '2',
		'E', 'C', 0x04, '4', '2', '4', '2',
		'V', 'A', 0x02, 'E', 'X'}
	vpdRHeader = []byte{0x90, 0x16, 0x00}
	vpdW       = []byte{0x91, 0x19, 0x00,
		'V', 'Z', 0x02, '4', '2',
		'Y', 'A', 0x04, 'I', 'D', '4', '2',
		'Y', 'F', 0x02, 'E', 'X',
		'Y', 'E', 0x00,
		'R', 'W', 0x02, 0x00, 0x00}
	vpdEnd = []byte{0x78}
)

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseVPD(t *testing.T) {
	full := cat(vpdStrRes, vpdRHeader, vpdRFields, []byte{'R', 'V', 0x02, 0x31, 0x00}, vpdW, vpdEnd)
	v := parseVPD(full)
	if v == nil {
		t.Fatal("the full example did not parse")
	}
	var b xmlBuf
	formatVPD(&b, v)
	want := `<capability type='vpd'>
  <name>testname</name>
  <fields access='readonly'>
    <change_level>4242</change_level>
    <part_number>42</part_number>
    <vendor_field index='A'>EX</vendor_field>
  </fields>
  <fields access='readwrite'>
    <asset_tag>ID42</asset_tag>
    <vendor_field index='Z'>42</vendor_field>
    <system_field index='F'>EX</system_field>
    <system_field index='E'></system_field>
  </fields>
</capability>
`
	if got := b.sb.String(); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
	for name, data := range map[string][]byte{
		"bad checksum": cat(vpdStrRes, vpdRHeader, vpdRFields, []byte{'R', 'V', 0x02, 0xff, 0x00}, vpdW, vpdEnd),
		"no VPD-R":     cat(vpdStrRes, vpdEnd),
		"no RV":        cat(vpdStrRes, []byte{0x90, 0x11, 0x00}, vpdRFields, vpdEnd),
		"no end tag":   cat(vpdStrRes, vpdRHeader, vpdRFields, []byte{'R', 'V', 0x02, 0x31, 0x00}),
		"long string":  cat([]byte{0x82, 0x04, 0x00}, []byte("testname"), []byte{0x90, 0x05, 0x00, 'R', 'V', 0x02, 0xda, 0x00}, vpdEnd),
		"short string": cat([]byte{0x82, 0x0a, 0x00}, []byte("testname"), []byte{0x90, 0x05, 0x00, 'R', 'V', 0x02, 0xd4, 0x00}, vpdEnd),
		"zero byte":    {0x00},
		"empty":        {},
		"RV in VPD-W":  cat(vpdStrRes, vpdRHeader, vpdRFields, []byte{'R', 'V', 0x02, 0x31, 0x00}, []byte{0x91, 0x05, 0x00, 'R', 'V', 0x02, 0x00, 0x00}, vpdEnd),
	} {
		if v := parseVPD(data); v != nil {
			t.Errorf("%s: parsed as %+v", name, v)
		}
	}
	// A zero-length RW field ends the read-write resource.
	zrw := cat(vpdStrRes, vpdRHeader, vpdRFields, []byte{'R', 'V', 0x02, 0x31, 0x00},
		[]byte{0x91, 0x08, 0x00, 'Y', 'A', 0x02, 'I', 'D', 'R', 'W', 0x00}, vpdEnd)
	if v := parseVPD(zrw); v == nil || v.RW == nil || v.RW.AssetTag == nil || *v.RW.AssetTag != "ID" {
		t.Errorf("zero-length RW: %+v", v)
	}
}

// TestFakeHostVPD: a PCI function with a vpd file shows it after its
// other nested capabilities and counts as a vpd device for listing.
func TestFakeHostVPD(t *testing.T) {
	f, m := newFakeHost(t)
	full := cat(vpdStrRes, vpdRHeader, vpdRFields, []byte{'R', 'V', 0x02, 0x31, 0x00}, vpdW, vpdEnd)
	f.file("/sys/devices/pci0000:00/0000:00:1f.0/vpd", string(full))
	x, err := m.NodeDeviceGetXMLDesc("pci_0000_00_1f_0", 0)
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(x, "<capability type='vpd'>"), strings.Index(x, "<iommuGroup")
	if i < 0 || (j >= 0 && j < i) || !strings.Contains(x, "      <name>testname</name>\n") {
		t.Errorf("XML:\n%s", x)
	}
	names, err := m.ListAllNodeDevices(1 << 21) // VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPD
	if err != nil || len(names) != 1 || names[0] != "pci_0000_00_1f_0" {
		t.Errorf("--cap vpd: %v %v", names, err)
	}
	caps, _ := m.NodeDeviceListCaps("pci_0000_00_1f_0", 10)
	if strings.Join(caps, ",") != "pci,vpd" {
		t.Errorf("caps: %v", caps)
	}
	// A malformed one is left out, as libvirt does.
	f.file("/sys/devices/pci0000:00/0000:00:1f.0/vpd", string(full[:20]))
	if x, _ := m.NodeDeviceGetXMLDesc("pci_0000_00_1f_0", 0); strings.Contains(x, "vpd") {
		t.Errorf("malformed VPD shown:\n%s", x)
	}
}

// TestFakeHostMdev: an active mediated device (sysfs, as the udev
// backend sees it) under a PCI parent with mdev_supported_types.
func TestFakeHostMdev(t *testing.T) {
	f, m := newFakeHost(t)
	const gpu = "/sys/devices/pci0000:00/0000:00:1f.0"
	const id = "4b20d080-1b54-4048-85b3-a6a62d165c01"
	f.file(gpu+"/mdev_supported_types/i915-GVTg_V5_4/name", "GVTg_V5_4\n")
	f.file(gpu+"/mdev_supported_types/i915-GVTg_V5_4/device_api", "vfio-pci\n")
	f.file(gpu+"/mdev_supported_types/i915-GVTg_V5_4/available_instances", "1\n")
	f.dev(gpu+"/"+id, "/sys/bus/mdev", "/sys/bus/mdev/devices/"+id, "MDEV_TYPE=i915-GVTg_V5_4\nDRIVER=vfio_mdev\n")
	f.link(gpu+"/"+id+"/mdev_type", gpu+"/mdev_supported_types/i915-GVTg_V5_4")
	f.file("/sys/kernel/iommu_groups/12/type", "DMA\n")
	f.link(gpu+"/"+id+"/iommu_group", "/sys/kernel/iommu_groups/12")
	name := "mdev_4b20d080_1b54_4048_85b3_a6a62d165c01_0000_00_1f_0"
	x, err := m.NodeDeviceGetXMLDesc(name, 0)
	if err != nil {
		names, _ := m.ListAllNodeDevices(0)
		t.Fatalf("%v (devices: %v)", err, names)
	}
	for _, want := range []string{"<parent>pci_0000_00_1f_0</parent>", `  <capability type='mdev'>
    <type id='i915-GVTg_V5_4'/>
    <uuid>` + id + `</uuid>
    <parent_addr>0000:00:1f.0</parent_addr>
    <iommuGroup number='12'/>
  </capability>`} {
		if !strings.Contains(x, want) {
			t.Errorf("XML lacks %s:\n%s", want, x)
		}
	}
	if names, err := m.ListAllNodeDevices(1 << 14); err != nil || len(names) != 1 || names[0] != name { // CAP_MDEV
		t.Errorf("--cap mdev: %v %v", names, err)
	}
	if names, err := m.ListAllNodeDevices(1 << 13); err != nil || strings.Join(names, ",") != "pci_0000_00_1f_0" { // CAP_MDEV_TYPES
		t.Errorf("--cap mdev_types: %v %v", names, err)
	}
}
