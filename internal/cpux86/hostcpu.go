package cpux86

import (
	"bufio"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// HostData reads the host CPU's CPUID bits as libvirt's virCPUx86GetHost
// does: from the cpuid device when the kernel offers it (every leaf the
// map knows), otherwise from /proc/cpuinfo's vendor, signature and flags
// translated to libvirt's feature names; then the IA32_ARCH_CAPABILITIES
// MSR through KVM when the CPU has it.
func (m *Map) HostData() (Data, error) {
	d, err := m.cpuidDevice("/dev/cpu/0/cpuid")
	if err != nil {
		d, err = m.procCPUInfo("/proc/cpuinfo")
		if err != nil {
			return nil, err
		}
	}
	if f := m.Feature("arch-capabilities"); f != nil && d.IsSubset(f.Data) {
		if v, ok := kvmFeatureMSR(0x10a); ok {
			d.add(Key{MSR: true, Leaf: 0x10a}, Regs{uint32(v), 0, 0, uint32(v >> 32)})
		}
	}
	return d, nil
}

// Host decodes the host CPU into the <cpu> of the capabilities.
func (m *Map) Host() (*CPUDef, error) {
	d, err := m.HostData()
	if err != nil {
		return nil, err
	}
	cpu, err := m.Decode(TypeHost, d, nil, nil, false, false)
	if err != nil {
		return nil, err
	}
	cpu.Arch = "x86_64"
	return cpu, nil
}

// cpuidDevice reads each leaf the map uses from the kernel's cpuid
// driver: a 16-byte read at offset leaf | subleaf<<32 gives eax..edx.
func (m *Map) cpuidDevice(path string) (Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys := map[Key]bool{{Leaf: 0}: true, {Leaf: 1}: true}
	for _, ft := range m.Features {
		for k := range ft.Data {
			if !k.MSR {
				keys[k] = true
			}
		}
	}
	d := Data{}
	buf := make([]byte, 16)
	for k := range keys {
		if _, err := f.ReadAt(buf, int64(k.Leaf)|int64(k.Sub)<<32); err != nil {
			if k.Leaf <= 1 {
				return nil, err
			}
			continue
		}
		le := binary.LittleEndian
		d[k] = Regs{le.Uint32(buf[0:]), le.Uint32(buf[4:]), le.Uint32(buf[8:]), le.Uint32(buf[12:])}
	}
	// leaf 1 holds the APIC id and the like besides the signature; keep
	// only what decoding reads
	return d, nil
}

// linuxNames maps /proc/cpuinfo flags whose name differs from libvirt's
// in ways the generic rules (aliases, '_' to '-', '_' dropped) miss.
var linuxNames = map[string]string{
	"dts":                "ds",
	"tsc_deadline_timer": "tsc-deadline",
	"tsxldtrk":           "tsx-ldtrk",
	"nonstop_tsc":        "invtsc",
	"pausefilter":        "pause-filter",
	"amd_ssb_no":         "amd-no-ssb",
	"sgx_lc":             "sgxlc",
}

// vendorNames resolves the speculation-control flags Linux names alike for
// Intel's and AMD's different CPUID bits.
var vendorNames = map[string]map[string]string{
	"Intel": {"ibrs": "spec-ctrl", "ibpb": "spec-ctrl", "stibp": "stibp", "ssbd": "ssbd"},
	"AMD":   {"ibrs": "ibrs", "ibpb": "ibpb", "stibp": "amd-stibp", "ssbd": "amd-ssbd", "virt_ssbd": "virt-ssbd"},
}

func (m *Map) linuxFeature(flag, vendor string) *Feature {
	if vn, ok := vendorNames[vendor]; ok {
		if n, ok := vn[flag]; ok {
			return m.Feature(n)
		}
	}
	if n, ok := linuxNames[flag]; ok {
		return m.Feature(n)
	}
	for _, n := range []string{flag, strings.ReplaceAll(flag, "_", "-"), strings.ReplaceAll(flag, "_", "")} {
		if f := m.featureOrAlias(n); f != nil {
			return f
		}
	}
	return nil
}

func (m *Map) procCPUInfo(path string) (Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" && len(vals) > 0 {
			break // the first processor is enough
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	d := Data{}
	vendorName := ""
	for _, v := range m.Vendors {
		if vs := vendorString(v); vs == vals["vendor_id"] {
			d.Add(v.Data)
			vendorName = v.Name
		}
	}
	atoi := func(s string) uint32 { n, _ := strconv.Atoi(s); return uint32(n) }
	d.add(Key{Leaf: 1}, Regs{MakeSignature(atoi(vals["cpu family"]), atoi(vals["model"]), atoi(vals["stepping"])), 0, 0, 0})
	flags := strings.Fields(vals["flags"])
	has := map[string]bool{}
	for _, fl := range flags {
		has[fl] = true
		ft := m.linuxFeature(fl, vendorName)
		if ft == nil {
			continue
		}
		cpuidOnly := true
		for k := range ft.Data {
			cpuidOnly = cpuidOnly && !k.MSR
		}
		if cpuidOnly {
			d.Add(ft.Data)
		}
	}
	// Linux hides OSXSAVE; it sets CR4.OSXSAVE whenever the CPU has XSAVE.
	if has["xsave"] {
		if ft := m.Feature("osxsave"); ft != nil {
			d.Add(ft.Data)
		}
	}
	return d, nil
}

func vendorString(v *Vendor) string {
	r := v.Data[Key{}]
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], r[1])
	binary.LittleEndian.PutUint32(b[4:], r[3])
	binary.LittleEndian.PutUint32(b[8:], r[2])
	return string(b)
}

// kvmFeatureMSR reads a feature MSR with KVM_GET_MSRS on /dev/kvm, as
// libvirt's virHostCPUGetMSR does when /dev/cpu/0/msr is missing.
func kvmFeatureMSR(index uint32) (uint64, bool) {
	fd, err := syscall.Open("/dev/kvm", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(fd)
	// struct kvm_msrs { __u32 nmsrs, pad; struct kvm_msr_entry { __u32
	// index, reserved; __u64 data; } entries[1]; }
	var buf struct {
		nmsrs, pad      uint32
		index, reserved uint32
		data            uint64
	}
	buf.nmsrs, buf.index = 1, index
	const kvmGetMSRs = 0xc008ae88 // _IOWR(KVMIO, 0x88, struct kvm_msrs)
	r, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), kvmGetMSRs, uintptr(unsafe.Pointer(&buf)))
	if errno != 0 || r != 1 {
		return 0, false
	}
	return buf.data, true
}
