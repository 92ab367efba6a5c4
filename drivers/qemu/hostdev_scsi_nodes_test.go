package qemu

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"govirt/conf"
)

// TestSCSIHostdevNodes: a SCSI host device's /dev/sgN (found from its
// adapter and address) is in the guest's device list (read-only with
// <readonly/>), its private /dev and its DAC labels; iSCSI ones and
// other hostdevs add none; a LUN disk's block node is its disk's.
func TestSCSIHostdevNodes(t *testing.T) {
	old := scsiGenericOf
	t.Cleanup(func() { scsiGenericOf = old })
	asked := []string{}
	scsiGenericOf = func(addr string) (string, error) {
		asked = append(asked, addr)
		switch addr {
		case "2:0:1:3":
			return "/dev/sg4", nil
		case "0:0:0:0":
			return "/dev/sg0", nil
		}
		return "", fmt.Errorf("no device %s", addr)
	}
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>s</name><memory>65536</memory>
<os><type>hvm</type></os><devices>
<disk type='block' device='lun'><driver name='qemu' type='raw'/><source dev='/dev/sdz'/><target dev='sda' bus='scsi'/></disk>
<controller type='scsi' model='virtio-scsi'/>
<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host2'/><address bus='0' target='1' unit='3'/></source>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/></hostdev>
<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source><readonly/>
  <address type='drive' controller='0' bus='0' target='0' unit='2'/></hostdev>
<hostdev mode='subsystem' type='scsi'><source protocol='iscsi' name='iqn.2014-12.org.example:t1/0'><host name='example.org'/></source>
  <address type='drive' controller='0' bus='0' target='0' unit='3'/></hostdev>
<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host9'/><address bus='0' target='0' unit='0'/></source>
  <address type='drive' controller='0' bus='0' target='0' unit='4'/></hostdev>
<hostdev mode='subsystem' type='scsi'><source><adapter name='host1'/><address bus='0' target='0' unit='0'/></source>
  <address type='drive' controller='0' bus='0' target='0' unit='5'/></hostdev>
</devices></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	var sg []devUse
	for _, u := range guestDevices(def) {
		if filepath.Dir(u.path) == "/dev" {
			sg = append(sg, u)
		}
	}
	if want := []devUse{{"/dev/sg4", "rw"}, {"/dev/sg0", "r"}}; !reflect.DeepEqual(sg, want) {
		t.Errorf("device list %v, want %v", sg, want)
	}
	if want := []string{"2:0:1:3", "0:0:0:0", "9:0:0:0"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("looked up %v, want %v", asked, want)
	}
	ns := nsPaths(def)
	for _, p := range []string{"/dev/sg4", "/dev/sg0", "/dev/sdz"} {
		if !has(ns, p) {
			t.Errorf("private /dev lacks %s: %v", p, ns)
		}
	}
	if got := diskDevices(def.Devices.Disks[0]); !reflect.DeepEqual(got, []devUse{{"/dev/sdz", "rw"}}) {
		t.Errorf("LUN disk's devices: %v", got)
	}
	var s secDriver
	if got := s.extraFiles(def, ""); !reflect.DeepEqual(got, []string{"/dev/sg4", "/dev/sg0"}) {
		t.Errorf("DAC files: %v", got)
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
