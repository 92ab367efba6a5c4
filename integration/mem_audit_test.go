package integration

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Issue 13's memory, audited side by side with libvirtd 9.0 through
// virsh: the definition as libvirt writes it back (its element order,
// sizes in KiB, <memory> from the NUMA cells and memory devices, DIMM
// slots), memory devices hot-plugged, changed and unplugged, and what
// QEMU placed (DIMM base, virtio-mem current size) in the live XML.

const memAuditGuest = `<domain type='qemu'>
  <name>NAME</name>
  <maxMemory slots='4' unit='MiB'>2048</maxMemory>
  <memory unit='MiB'>1024</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <cpu><numa><cell id='0' cpus='0-1' memory='256' unit='MiB'/></numa></cpu>
  <features><acpi/></features>
  <memtune><soft_limit unit='GiB'>2</soft_limit></memtune>
  <memoryBacking><discard/><source type='memfd'/><access mode='shared'/></memoryBacking>
  <devices>DEVICES</devices>
</domain>
`

const (
	memAuditDIMM = `<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>`
	memAuditVMem = `<memory model='virtio-mem'><target><size unit='MiB'>256</size><node>0</node><block unit='MiB'>2</block><requested unit='MiB'>0</requested></target></memory>`
)

// memAuditNorm drops what differs between two daemons for the same
// guest: ids, UUIDs, paths of their own, the DAC label libvirtd adds.
var memAuditNorm = regexp.MustCompile(`(?m)^.*(<uuid>|<seclabel|</seclabel>|<label>|<imagelabel>|<mac address).*\n`)

func memAuditXML(name, devices string) string {
	return strings.NewReplacer("NAME", name, "DEVICES", devices).Replace(memAuditGuest)
}

func normDump(s string) string {
	s = regexp.MustCompile(`(<domain [^>]*) id='[0-9]+'`).ReplaceAllString(s, "$1")
	return memAuditNorm.ReplaceAllString(s, "")
}

// memAuditRun is the scenario on one daemon; it returns the XML seen at
// each step.
func memAuditRun(t *testing.T, uri string) map[string]string {
	t.Helper()
	out := map[string]string{}
	name := "memaudit"
	def := writeTemp(t, "g.xml", memAuditXML(name, memAuditDIMM))
	dimm := writeTemp(t, "dimm.xml", memAuditDIMM)
	vmem := writeTemp(t, "vmem.xml", memAuditVMem)
	run := func(args ...string) string {
		t.Helper()
		o, e, rc := virsh(t, uri, args...)
		if rc != 0 {
			t.Fatalf("%s: virsh %v: %s%s", uri, args, o, e)
		}
		return o
	}
	t.Cleanup(func() {
		virsh(t, uri, "destroy", name)
		virsh(t, uri, "undefine", name)
	})
	run("define", def)
	out["defined"] = normDump(run("dumpxml", "--inactive", name))
	run("start", name)
	out["started"] = normDump(run("dumpxml", name))
	run("attach-device", name, dimm, "--live")
	run("attach-device", name, vmem, "--live", "--config")
	out["attached"] = normDump(run("dumpxml", name))
	out["attached-config"] = normDump(run("dumpxml", "--inactive", name))
	run("update-memory-device", name, "--alias", "virtiomem0", "--requested-size", "64MiB")
	out["updated"] = normDump(run("dumpxml", name))
	// A DIMM goes from the persistent definition; a virtio-mem device
	// cannot be unplugged (QEMU says so through libvirt).
	run("detach-device", name, dimm, "--config")
	out["detached-config"] = normDump(run("dumpxml", "--inactive", name))
	// virsh picks the one memory device left to update.
	run("update-memory-device", name, "--requested-size", "32MiB", "--config")
	out["updated-config"] = normDump(run("dumpxml", "--inactive", name))
	_, e, rc := virsh(t, uri, "detach-device-alias", name, "virtiomem0", "--live")
	out["vmem-unplug"] = lastLine(e)
	if rc == 0 {
		out["vmem-unplug"] = "accepted"
	}
	return out
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// TestMemoryAuditHotplug: memory devices of a running guest as libvirt:
// attach --live of a DIMM and virtio-mem (govirtd refused both: "live
// attach of device 'memory' is not supported"), update-memory-device
// live and persistent, persistent detach; each step's XML is libvirtd's.
func TestMemoryAuditHotplug(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	got := memAuditRun(t, d.URI("qemu"))
	// Without libvirtd, the facts libvirt's output shows.
	for step, want := range map[string][]string{
		"defined": {"<memory unit='KiB'>393216</memory>", "<soft_limit unit='KiB'>2097152</soft_limit>",
			"<cell id='0' cpus='0-1' memory='262144' unit='KiB'/>", "<address type='dimm' slot='0'/>",
			"<source type='memfd'/>\n    <access mode='shared'/>\n    <discard/>"},
		"started":         {"<alias name='dimm0'/>", "<address type='dimm' slot='0' base='0x"},
		"attached":        {"<memory unit='KiB'>786432</memory>", "<alias name='dimm1'/>", "<address type='dimm' slot='1' base='0x", "<alias name='virtiomem0'/>", "<current unit='KiB'>0</current>"},
		"attached-config": {"<memory unit='KiB'>655360</memory>", "<size unit='KiB'>262144</size>"},
		"updated":         {"<requested unit='KiB'>65536</requested>"},
		"updated-config":  {"<requested unit='KiB'>32768</requested>"},
		"detached-config": {"<memory unit='KiB'>524288</memory>", "<currentMemory unit='KiB'>524288</currentMemory>"},
		"vmem-unplug":     {"virtio based memory devices cannot be unplugged"},
	} {
		for _, w := range want {
			if !strings.Contains(got[step], w) {
				t.Errorf("%s: lacks %q:\n%s", step, w, got[step])
			}
		}
	}
	if !libvirtdUp() {
		return
	}
	lv := memAuditRun(t, libvirtdURI)
	for step, g := range got {
		if g != lv[step] {
			t.Errorf("%s: govirtd and libvirtd differ:\n--- govirtd\n%s\n--- libvirtd\n%s", step, g, lv[step])
		}
	}
}
