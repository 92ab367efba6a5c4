package qemu

import (
	"os"
	"strconv"
	"sync"
	"syscall"

	"govirt/conf"
	"govirt/virerr"
)

// The host's TSC as KVM reports it (virHostCPUGetTscInfo) and libvirt's
// check of a guest's <timer name='tsc' frequency> against it at start
// (qemuProcessStartValidateTSC): QEMU can only give a guest a TSC
// frequency within 250 ppm of the host's unless the host CPU scales it.

// KVM's ioctls (linux/kvm.h, _IO(KVMIO=0xAE, nr)).
const (
	kvmCreateVM       = 0xAE01
	kvmCheckExtension = 0xAE03
	kvmCreateVCPU     = 0xAE41
	kvmGetTSCKHz      = 0xAEA3
	kvmCapTSCControl  = 60
)

type tscInfo struct {
	hz      uint64
	scaling bool
}

// hostTSC probes once: a scratch VM with one vCPU tells the TSC
// frequency, KVM_CAP_TSC_CONTROL whether it scales. ok is false where
// KVM cannot tell (no /dev/kvm), as libvirt then skips the check.
var hostTSC = sync.OnceValues(func() (tscInfo, bool) {
	kvm, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return tscInfo{}, false
	}
	defer kvm.Close()
	vm, _, e := syscall.Syscall(syscall.SYS_IOCTL, kvm.Fd(), kvmCreateVM, 0)
	if e != 0 {
		return tscInfo{}, false
	}
	defer syscall.Close(int(vm))
	vcpu, _, e := syscall.Syscall(syscall.SYS_IOCTL, vm, kvmCreateVCPU, 0)
	if e != 0 {
		return tscInfo{}, false
	}
	defer syscall.Close(int(vcpu))
	khz, _, e := syscall.Syscall(syscall.SYS_IOCTL, vcpu, kvmGetTSCKHz, 0)
	if e != 0 || khz == 0 {
		return tscInfo{}, false
	}
	sc, _, e := syscall.Syscall(syscall.SYS_IOCTL, kvm.Fd(), kvmCheckExtension, kvmCapTSCControl)
	if e != 0 {
		return tscInfo{}, false
	}
	return tscInfo{hz: uint64(khz) * 1000, scaling: sc != 0}, true
})

// validateTSC is qemuProcessStartValidateTSC.
func validateTSC(def *conf.Domain) error {
	clock := def.Tree().Child("clock")
	if clock == nil {
		return nil
	}
	var freq uint64
	for _, t := range clock.Children("timer") {
		if n, _ := t.Attr("name"); n != "tsc" {
			continue
		}
		f, _ := t.Attr("frequency")
		if v, err := strconv.ParseUint(f, 10, 64); err == nil && v > 0 {
			freq = v
		}
	}
	if freq == 0 {
		return nil
	}
	host, ok := hostTSC()
	if !ok {
		return nil
	}
	tol := host.hz * 250 / 1000000
	lo, hi := host.hz-tol, host.hz+tol
	if (freq >= lo && freq <= hi) || host.scaling {
		return nil
	}
	return errQEMU(virerr.ErrConfigUnsupported,
		"Requested TSC frequency %d Hz is outside tolerance range ([%d, %d] Hz) around host frequency %d Hz and TSC scaling is not supported by the host CPU",
		freq, lo, hi, host.hz)
}
