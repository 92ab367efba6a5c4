package command

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/virerr"
)

func counterFrom(n int) func() int { return func() int { n++; return n } }

func parseDisk(t *testing.T, xml string) *conf.Disk {
	t.Helper()
	dev, err := conf.ParseDevice([]byte(xml))
	if err != nil {
		t.Fatal(err)
	}
	return dev.(*conf.Disk)
}

// TestHotplugDiskI440FX: a hot-plugged virtio disk gets the next free slot
// of pci.0, libvirt's alias and fresh node names, and its QMP arguments
// match what the command line would say.
func TestHotplugDiskI440FX(t *testing.T) {
	def := loadDomain(t, "testdata/disk-raw-virtio.xml", goldenDir)
	if _, err := Build(def, qemu72(), goldenPaths("hp")); err != nil {
		t.Fatal(err)
	}
	disk := parseDisk(t, `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/new.img'/><target dev='vdc' bus='virtio'/></disk>`)
	if err := PrepareHotplugDisk(def, disk, qemu72(), counterFrom(10)); err != nil {
		t.Fatal(err)
	}
	used := map[uint]bool{}
	for _, d := range def.Devices.Disks {
		used[d.Address.Slot] = true
	}
	if disk.Alias != "virtio-disk2" || disk.Address.Type != "pci" || disk.Address.Bus != 0 || used[disk.Address.Slot] || disk.Address.Slot < 3 {
		t.Errorf("alias %q address %+v", disk.Alias, disk.Address)
	}
	if disk.Source.NodeName != "libvirt-11-storage" || disk.Source.NodeNameFormat != "libvirt-11-format" {
		t.Errorf("node names %q %q", disk.Source.NodeName, disk.Source.NodeNameFormat)
	}
	bd := DiskBlockdevs(disk)
	if len(bd) != 2 || !strings.Contains(string(bd[0]), `"driver":"file","filename":"/img/new.img","node-name":"libvirt-11-storage"`) ||
		!strings.Contains(string(bd[1]), `"node-name":"libvirt-11-format","read-only":false,"driver":"raw","file":"libvirt-11-storage"`) {
		t.Errorf("blockdevs %s", bd)
	}
	dev, err := DiskDeviceAdd(def, disk, qemu72())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(dev), `{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x`) ||
		!strings.HasSuffix(string(dev), `"drive":"libvirt-11-format","id":"virtio-disk2"}`) {
		t.Errorf("device_add %s", dev)
	}
	if got := DiskNodes(disk); strings.Join(got, ",") != "libvirt-11-format,libvirt-11-storage" {
		t.Errorf("nodes %v", got)
	}
}

// TestHotplugQ35Ports: on q35 a device goes on a free pcie-root-port, and
// once none is left the error is libvirt's.
func TestHotplugQ35Ports(t *testing.T) {
	def := loadDomain(t, "testdata/kvm-q35-minimal.xml", goldenDir)
	if _, err := Build(def, qemu72(), goldenPaths("hp")); err != nil {
		t.Fatal(err)
	}
	free := 0
	for i := 0; i < 10; i++ {
		disk := parseDisk(t, `<disk type='file' device='disk'><source file='/img/x.img'/><target dev='vdz' bus='virtio'/></disk>`)
		err := PrepareHotplugDisk(def, disk, qemu72(), counterFrom(0))
		if err != nil {
			var ve *virerr.Error
			if !errors.As(err, &ve) || !strings.Contains(ve.Error(), "No more available PCI slots") {
				t.Fatalf("error %v", err)
			}
			break
		}
		if disk.Address.Bus == 0 {
			t.Fatalf("q35 disk on pcie.0: %+v", disk.Address)
		}
		free++
		disk.TargetDev = "vd" + string(rune('b'+i))
		def.Devices.Disks = append(def.Devices.Disks, disk)
	}
	if free < 1 {
		t.Errorf("no spare root port for hotplug")
	}
}

func TestHotplugRefusals(t *testing.T) {
	def := loadDomain(t, "testdata/disk-raw-virtio.xml", goldenDir)
	if _, err := Build(def, qemu72(), goldenPaths("hp")); err != nil {
		t.Fatal(err)
	}
	for xml, want := range map[string]string{
		`<disk type='file' device='disk'><source file='/x'/><target dev='sdb' bus='sata'/></disk>`:    "disk bus 'sata' cannot be hotplugged.",
		`<disk type='file' device='cdrom'><source file='/x'/><target dev='vdd' bus='virtio'/></disk>`: "cdrom device with virtio bus isn't supported",
		`<disk type='file' device='floppy'><source file='/x'/><target dev='fda' bus='fdc'/></disk>`:   "floppy device hotplug isn't supported",
	} {
		err := PrepareHotplugDisk(def, parseDisk(t, xml), qemu72(), counterFrom(0))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", xml, err, want)
		}
	}
}

// TestHotplugConventionalPCIBridge: on q35 a hot-plugged conventional NIC
// takes the next free slot of the guest's pcie-to-pci-bridge; without
// such a bridge it is refused.
func TestHotplugConventionalPCIBridge(t *testing.T) {
	def := loadDomain(t, "testdata/pci-controllers.xml", goldenDir)
	if _, err := Build(def, qemu72(), goldenPaths("hp")); err != nil {
		t.Fatal(err)
	}
	used := map[[2]uint]bool{}
	for _, n := range def.Devices.Interfaces {
		used[[2]uint{n.Address.Bus, n.Address.Slot}] = true
	}
	n := &conf.Interface{Type: "user", Model: "e1000", MAC: "52:54:00:3c:1a:09"}
	if err := PrepareHotplugNet(def, n, qemu72()); err != nil {
		t.Fatal(err)
	}
	// pci.5 (the pci-bridge) comes first by index and has slots left.
	if n.Address.Bus != 5 || n.Address.Slot == 0 || used[[2]uint{n.Address.Bus, n.Address.Slot}] {
		t.Errorf("hot-plugged e1000 at %+v", n.Address)
	}
	dev, err := NetDeviceAdd(def, n, qemu72())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dev), fmt.Sprintf(`"bus":"pci.5","addr":"0x%x"`, n.Address.Slot)) {
		t.Errorf("device_add %s", dev)
	}

	def = loadDomain(t, "testdata/kvm-q35-minimal.xml", goldenDir)
	if _, err := Build(def, qemu72(), goldenPaths("hp")); err != nil {
		t.Fatal(err)
	}
	n = &conf.Interface{Type: "user", Model: "e1000", MAC: "52:54:00:3c:1a:0a"}
	if err := PrepareHotplugNet(def, n, qemu72()); err == nil || !strings.Contains(err.Error(), "conventional PCI device") {
		t.Errorf("e1000 on q35 without a bridge: %v", err)
	}
}

// A hot-plugged disk keeps its <acpi index> and <iotune>: device_add
// carries acpi-index after the address, the throttle is for the driver
// to send once the device exists; an index in use is refused.
func TestHotplugDiskACPIIndexAndIotune(t *testing.T) {
	def := loadDomain(t, "testdata/disk-features.xml", goldenDir)
	if _, err := Build(def, qemu72(), goldenPaths("hp")); err != nil {
		t.Fatal(err)
	}
	disk := parseDisk(t, `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/new.img'/>
<target dev='vdc' bus='virtio'/><iotune><total_iops_sec>50</total_iops_sec></iotune><acpi index='7'/></disk>`)
	if err := PrepareHotplugDisk(def, disk, qemu72(), counterFrom(10)); err != nil {
		t.Fatal(err)
	}
	dev, err := DiskDeviceAdd(def, disk, qemu72())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dev), `"acpi-index":7,"drive":"libvirt-11-format"`) {
		t.Errorf("device_add %s", dev)
	}
	thr, err := DiskThrottle(disk)
	if err != nil || !strings.Contains(string(thr), `"id":"/machine/peripheral/virtio-disk2/virtio-backend"`) ||
		!strings.Contains(string(thr), `"iops":50`) {
		t.Errorf("throttle %s, %v", thr, err)
	}
	dup := parseDisk(t, `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/dup.img'/>
<target dev='vdd' bus='virtio'/><acpi index='5'/></disk>`)
	if err := PrepareHotplugDisk(def, dup, qemu72(), counterFrom(20)); err != nil {
		t.Fatal(err)
	}
	if _, err := DiskDeviceAdd(def, dup, qemu72()); err == nil || !strings.Contains(err.Error(), "non unique device acpi index 5") {
		t.Errorf("duplicate acpi index: %v", err)
	}
}
