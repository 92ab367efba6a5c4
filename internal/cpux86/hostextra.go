package cpux86

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// HostExtras are what libvirt's virCPUx86GetHost adds to the decoded
// host CPU besides model and features: the microcode revision, the
// invariant TSC's frequency (through KVM) and the physical address width.
type HostExtras struct {
	Microcode  uint32 // 0: unknown
	TSCFreq    uint64 // Hz; 0: no invariant TSC or no KVM
	TSCScaling string // yes/no, with TSCFreq
	PhysBits   int    // 0: unknown
}

// HostExtras reads them as virHostCPUGetMicrocodeVersion,
// virHostCPUGetTscInfo and virHostCPUGetPhysAddrSize do.
func (m *Map) HostExtras() HostExtras {
	var x HostExtras
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "microcode":
				if x.Microcode == 0 {
					if n, err := strconv.ParseUint(v, 0, 32); err == nil {
						x.Microcode = uint32(n)
					}
				}
			case "address sizes":
				if x.PhysBits == 0 {
					if f := strings.Fields(v); len(f) > 0 {
						x.PhysBits, _ = strconv.Atoi(f[0])
					}
				}
			}
		}
		f.Close()
	}
	// Only an invariant TSC has a frequency worth reporting.
	if d, err := m.HostData(); err == nil {
		if f := m.Feature("invtsc"); f != nil && d.IsSubset(f.Data) {
			x.TSCFreq, x.TSCScaling = kvmTSC()
		}
	}
	return x
}

// kvmTSC is KVM_GET_TSC_KHZ of a scratch vCPU and KVM_CAP_TSC_CONTROL.
func kvmTSC() (uint64, string) {
	const (
		kvmCheckExtension = 0xae03
		kvmCreateVM       = 0xae01
		kvmCreateVCPU     = 0xae41
		kvmGetTSCKHz      = 0xaea3
		kvmCapTSCControl  = 60
	)
	kvm, err := syscall.Open("/dev/kvm", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, ""
	}
	defer syscall.Close(kvm)
	vm, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(kvm), kvmCreateVM, 0)
	if errno != 0 {
		return 0, ""
	}
	defer syscall.Close(int(vm))
	vcpu, _, errno := syscall.Syscall(syscall.SYS_IOCTL, vm, kvmCreateVCPU, 0)
	if errno != 0 {
		return 0, ""
	}
	defer syscall.Close(int(vcpu))
	khz, _, errno := syscall.Syscall(syscall.SYS_IOCTL, vcpu, kvmGetTSCKHz, 0)
	if errno != 0 {
		return 0, ""
	}
	scaling := "no"
	if r, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(kvm), kvmCheckExtension, kvmCapTSCControl); errno == 0 && r > 0 {
		scaling = "yes"
	}
	return uint64(khz) * 1000, scaling
}
