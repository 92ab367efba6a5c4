package command

import (
	"strings"
	"testing"

	"govirt/conf"
)

// A missing image with startupPolicy='optional' leaves an empty drive
// (CD-ROM) or no disk at all; a mandatory one stays for QEMU to refuse.
func TestStartupPolicyOptional(t *testing.T) {
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'>
  <name>sp</name>
  <uuid>7d1e6f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6</uuid>
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/nonexistent/cd.iso' startupPolicy='optional'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/nonexistent/opt.img' startupPolicy='optional'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/nonexistent/must.img' startupPolicy='mandatory'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>`), conf.ParseValidate)
	if err != nil {
		t.Fatal(err)
	}
	p := goldenPaths("sp")
	p.SourceExists = func(string) bool { return false }
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(cl.Argv, " ")
	for _, gone := range []string{"cd.iso", "opt.img", "virtio-disk1"} {
		if strings.Contains(args, gone) {
			t.Errorf("command line still has %s:\n%s", gone, args)
		}
	}
	for _, kept := range []string{"must.img", `"driver":"ide-cd","bus":"ide.1","unit":0,"id":"ide0-1-0"`} {
		if !strings.Contains(args, kept) {
			t.Errorf("command line lacks %s:\n%s", kept, args)
		}
	}
	if len(def.Devices.Disks) != 2 || def.DiskByTarget("vdb") != nil {
		t.Errorf("live disks: %d, vdb %v", len(def.Devices.Disks), def.DiskByTarget("vdb"))
	}
	live, _ := def.Format(conf.FormatStatus)
	if n := strings.Count(string(live), "startupPolicy"); n != 1 {
		t.Errorf("the emptied CD-ROM keeps its policy:\n%s", live)
	}
}
