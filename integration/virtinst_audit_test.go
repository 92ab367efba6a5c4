package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVirtInstallAudit: what virt-install writes for issue 13's guests
// (UEFI, secure boot, TPM, Windows with Hyper-V enlightenments, memory
// hotplug with a NUMA cell) is defined by govirtd as by libvirtd: the
// same `dumpxml --inactive`, element for element. govirtd used to keep
// virt-install's <hyperv> without mode and its NUMA cell without id.
func TestVirtInstallAudit(t *testing.T) {
	needTool(t, "virt-install", "virtinst")
	d := startDaemon(t)
	uri := d.URI("qemu")
	withLibvirtd := libvirtdUp()
	strip := regexp.MustCompile(`(?m)^.*(<uuid>|<mac address|nvram).*\n`)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"viuefi", []string{"--osinfo", "linux2022", "--memory", "512", "--boot", "uefi,firmware.feature0.name=secure-boot,firmware.feature0.enabled=yes", "--tpm", "default"},
			[]string{"<os firmware='efi'>", "<feature enabled='yes' name='secure-boot'/>", "<tpm model='tpm-crb'>", "<backend type='emulator' version='2.0'/>"}},
		{"viwin", []string{"--osinfo", "win10", "--memory", "1024"},
			[]string{"<hyperv mode='custom'>", "<clock offset='localtime'>"}},
		{"vihot", []string{"--osinfo", "linux2022", "--memory", "1024,hotplugmemorymax=4096,hotplugmemoryslots=4", "--cpu", "cell0.cpus=0,cell0.memory=1048576", "--vcpus", "1"},
			[]string{"<maxMemory slots='4' unit='KiB'>4194304</maxMemory>", "<cell id='0' cpus='0' memory='1048576' unit='KiB'/>"}},
	} {
		args := append([]string{"--connect", uri, "--name", c.name, "--virt-type", "qemu", "--import", "--disk", "none",
			"--network", "none", "--graphics", "none", "--noautoconsole", "--print-xml"}, c.args...)
		xml, rc := runTool(t, 2*time.Minute, nil, "virt-install", args...)
		if rc != 0 {
			t.Fatalf("%s: virt-install --print-xml: rc=%d\n%s", c.name, rc, xml)
		}
		if msg := defineResult(t, uri, c.name, xml, true); msg != "" {
			t.Fatalf("%s: define: %s", c.name, msg)
		}
		got := mustVirsh(t, uri, "dumpxml --inactive "+c.name)
		mustVirsh(t, uri, "undefine --nvram --tpm "+c.name)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: dumpxml --inactive lacks %q:\n%s", c.name, w, got)
			}
		}
		if !withLibvirtd {
			continue
		}
		if msg := defineResult(t, libvirtdURI, c.name, xml, true); msg != "" {
			t.Fatalf("%s: libvirtd define: %s", c.name, msg)
		}
		lv, _, _ := virsh(t, libvirtdURI, "dumpxml", "--inactive", c.name)
		virsh(t, libvirtdURI, "undefine", "--nvram", "--tpm", c.name)
		if g, l := strip.ReplaceAllString(got, ""), strip.ReplaceAllString(lv, ""); g != l {
			t.Errorf("%s: govirtd and libvirtd differ:\n--- govirtd\n%s\n--- libvirtd\n%s", c.name, g, l)
		}
	}
}
