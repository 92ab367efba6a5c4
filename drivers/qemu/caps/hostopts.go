package caps

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"syscall"
)

// firmwareDirs are where QEMU firmware descriptors live, highest
// priority first (a file in /etc masks one of the same name below).
var firmwareDirs = []string{"/etc/qemu/firmware", "/usr/share/qemu/firmware"}

// HostDomCapsOptions detects the host facts domcapabilities reports.
func HostDomCapsOptions() DomCapsOptions {
	o := DomCapsOptions{HostArch: hostArch(), Firmwares: loadFirmwares(firmwareDirs)}
	if _, err := os.Stat("/dev/vfio/vfio"); err == nil {
		groups, _ := os.ReadDir("/sys/kernel/iommu_groups")
		o.VFIO = len(groups) > 0
	}
	if _, err := exec.LookPath("swtpm"); err == nil {
		o.Swtpm = true
		o.SwtpmVersions = swtpmVersions()
	}
	o.KVMMaxVCPUs = kvmMaxVCPUs()
	return o
}

func hostArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "386":
		return "i686"
	case "arm64":
		return "aarch64"
	case "arm":
		return "armv7l"
	}
	return runtime.GOARCH // ppc64le, s390x, riscv64 match libvirt's names
}

type firmwareDescriptor struct {
	InterfaceTypes []string `json:"interface-types"`
	Mapping        struct {
		Device     string `json:"device"`
		Filename   string `json:"filename"`
		Executable struct {
			Filename string `json:"filename"`
		} `json:"executable"`
	} `json:"mapping"`
	Targets []struct {
		Architecture string   `json:"architecture"`
		Machines     []string `json:"machines"`
	} `json:"targets"`
	Features []string `json:"features"`
}

// loadFirmwares reads QEMU firmware descriptors; images that are not on
// disk are left out, as libvirt does.
func loadFirmwares(dirs []string) []Firmware {
	byName := map[string]string{}
	for i := len(dirs) - 1; i >= 0; i-- {
		files, _ := filepath.Glob(filepath.Join(dirs[i], "*.json"))
		for _, f := range files {
			byName[filepath.Base(f)] = f
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names) // descriptor names carry their priority prefix
	var out []Firmware
	for _, n := range names {
		data, err := os.ReadFile(byName[n])
		if err != nil {
			continue
		}
		var d firmwareDescriptor
		if json.Unmarshal(data, &d) != nil {
			continue
		}
		path := d.Mapping.Executable.Filename
		if d.Mapping.Device == "memory" {
			path = d.Mapping.Filename
		}
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			continue
		}
		iface := "bios"
		if slices.Contains(d.InterfaceTypes, "uefi") {
			iface = "uefi"
		}
		for _, t := range d.Targets {
			out = append(out, Firmware{Path: path, Interface: iface, Arch: t.Architecture,
				Machines: t.Machines, Secure: slices.Contains(d.Features, "secure-boot")})
		}
	}
	return out
}

func swtpmVersions() []string {
	out, err := exec.Command("swtpm_setup", "--print-capabilities").Output()
	if err != nil {
		return nil
	}
	var caps struct {
		Features []string `json:"features"`
	}
	if json.Unmarshal(out, &caps) != nil {
		return nil
	}
	var vs []string
	if slices.Contains(caps.Features, "tpm-1.2") {
		vs = append(vs, "1.2")
	}
	if slices.Contains(caps.Features, "tpm-2.0") {
		vs = append(vs, "2.0")
	}
	return vs
}

// kvmMaxVCPUs asks KVM how many vCPUs one guest may have
// (KVM_CAP_MAX_VCPUS, falling back to the recommended KVM_CAP_NR_VCPUS).
func kvmMaxVCPUs() int {
	f, err := os.Open("/dev/kvm")
	if err != nil {
		return 0
	}
	defer f.Close()
	const kvmCheckExtension = 0xAE03 // _IO(KVMIO, 0x03)
	for _, capability := range []uintptr{66 /* KVM_CAP_MAX_VCPUS */, 9 /* KVM_CAP_NR_VCPUS */} {
		r, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCheckExtension, capability)
		if errno == 0 && r > 0 {
			return int(r)
		}
	}
	return 0
}

// SwtpmVersions are the TPM versions the host's swtpm emulates ("1.2",
// "2.0"), nil when swtpm is not installed.
func SwtpmVersions() []string {
	if _, err := exec.LookPath("swtpm"); err != nil {
		return nil
	}
	return swtpmVersions()
}
