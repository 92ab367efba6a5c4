package conf

import (
	"crypto/rand"
	"fmt"
	"slices"
)

// applyDomainDefaults fills in what libvirt's parser and post-parse
// callbacks assume when the document leaves it out, so that Format
// writes what libvirt would: the values are real settings of the domain,
// not presentation, and a reader comparing with libvirtd sees them.
// Nothing the user wrote is changed.
func applyDomainDefaults(d *Domain, root *node) {
	numatuneDefaults(root)
	// virDomainVcpuParse reads no cpuset for an automatic placement.
	if root.str("vcpu/@placement") == "auto" {
		d.CPUSet = ""
	}
	// A memory placed automatically makes the vCPUs placed automatically
	// too, even over placement='static', unless something is pinned
	// (virDomainDefParseXML after virDomainNumatuneParseXML).
	if d.VCPUPlacement == "" || (d.VCPUPlacement == "static" && d.CPUSet == "") {
		d.VCPUPlacement = defaultPlacement(root)
	}
	if root.child("clock") == nil {
		d.ClockOffset = "utc"
	}
	// virDomainDefLifecycleParse's defaults; on_lockfailure has none
	// that libvirt formats.
	if d.OnPoweroff == "" {
		d.OnPoweroff = "destroy"
	}
	if d.OnReboot == "" {
		d.OnReboot = "restart"
	}
	if d.OnCrash == "" {
		d.OnCrash = "destroy"
	}
	// virDomainDefBootOrderPostParse: an HVM guest that names no boot
	// device, neither in <os> nor per device, boots from disk. A
	// bootloader suppresses <boot> in libvirt's output, so it gets none.
	if d.OS.Type == "hvm" && len(d.OS.Boot) == 0 && root.child("bootloader") == nil &&
		!hasDeviceBootOrder(root.child("devices")) {
		d.OS.Boot = []string{"hd"}
	}
	for _, n := range d.Devices.Interfaces {
		if n.MAC == "" {
			n.MAC = GenerateMAC()
		}
	}
	// The implicit controllers are not added to the typed list here: the
	// QEMU driver's post-parse step adds them where libvirt does (after
	// the machine's default controllers); Format writes them regardless.
}

// addImplicitControllers adds the controllers devices address without
// the document declaring them, as virDomainDefAddImplicitControllers
// does: every drive controller index up to the highest one a disk of
// that bus uses, and the virtio-serial controller of virtio channels
// and consoles. Format applies it too, to a copy, so that devices added
// after parsing get their controllers written as well.
func addImplicitControllers(d *Devices) {
	for _, bus := range []string{"scsi", "fdc", "ide", "sata"} {
		highest := -1
		for _, disk := range d.Disks {
			if disk.TargetBus == bus && disk.Address.Type == "drive" {
				highest = max(highest, int(disk.Address.Controller))
			}
		}
		for i := 0; i <= highest; i++ {
			d.ensureController(bus, i)
		}
	}
	for _, list := range [][]*Chardev{d.Channels, d.Consoles} {
		for _, c := range list {
			if c.TargetType != "virtio" {
				continue
			}
			idx := 0
			if a := c.x.child("address"); a != nil && a.attr("type") == "virtio-serial" {
				idx = int(a.uintAt("@controller"))
			}
			d.ensureController("virtio-serial", idx)
		}
	}
}

func (d *Devices) ensureController(typ string, index int) {
	for _, c := range d.Controllers {
		if c.Type == typ && c.Index == index {
			return
		}
	}
	d.Controllers = append(slices.Clip(d.Controllers), &Controller{Type: typ, Index: index})
}

// defaultPlacement is the vcpu placement libvirt assumes: static, unless
// numatune places memory automatically and nothing pins CPUs explicitly.
func defaultPlacement(root *node) string {
	if root.str("numatune/memory/@placement") != "auto" || root.str("vcpu/@cpuset") != "" {
		return "static"
	}
	ct := root.child("cputune")
	if ct.child("vcpupin") != nil || ct.child("emulatorpin") != nil || ct.child("iothreadpin") != nil {
		return "static"
	}
	return "auto"
}

// numatuneDefaults is what virDomainNumatuneParseXML makes of
// <numatune><memory>: the mode defaults to strict; without a nodeset
// the placement is automatic when <vcpu placement='auto'> (otherwise
// static); a static placement is written as its nodeset alone. A vcpu
// placed automatically without any <memory> gets memory placed
// automatically too.
func numatuneDefaults(root *node) {
	vcpuAuto := root.str("vcpu/@placement") == "auto"
	mem := root.child("numatune").child("memory")
	if mem == nil {
		if vcpuAuto {
			root.put("numatune/memory/@mode", "strict")
			root.put("numatune/memory/@placement", "auto")
		}
		return
	}
	if mem.attr("mode") == "" {
		mem.setAttr("mode", "strict")
	}
	switch mem.attr("placement") {
	case "":
		if mem.attr("nodeset") == "" && vcpuAuto {
			mem.setAttr("placement", "auto")
		}
	case "static":
		if mem.attr("nodeset") != "" {
			mem.delAttr("placement")
		}
	}
	orderAttrs(mem, "mode", "nodeset", "placement")
}

// hasDeviceBootOrder reports whether any device carries <boot order=”>.
func hasDeviceBootOrder(devs *node) bool {
	for _, dev := range devs.elems() {
		if b := dev.child("boot"); b != nil && b.attr("order") != "" {
			return true
		}
	}
	return false
}

// GenerateMAC returns a random address under libvirt's default prefix
// 52:54:00, as libvirt gives every interface without <mac>.
func GenerateMAC() string {
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
}
