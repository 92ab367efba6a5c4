package qemu

import (
	"context"

	"govirt/drivers/qemu/command"
	"govirt/internal/cgroup"
)

// startThreads are the vCPU and iothread threads of a starting QEMU, as
// QMP names them. They are read once, before placeEmulator moves QEMU
// into the guest's CPU groups, and both the thread groups and the
// pinning use them: after the move, on a loaded cgroup v1 host, every
// monitor round trip waits for QEMU's turn in the machine partition's
// single share of the CPU. libvirt also reads them
// (qemuDomainRefreshVcpuInfo, qemuProcessDetectIOThreadPIDs) before
// qemuProcessSetupEmulator.
type startThreads struct {
	vcpus []struct {
		CPUIndex int `json:"cpu-index"`
		ThreadID int `json:"thread-id"`
	}
	iothreads []struct {
		ID       string `json:"id"`
		ThreadID int    `json:"thread-id"`
	}
}

// queryStartThreads asks QEMU for what the cgroup placement and the
// pinning of v will need, and nothing else.
func queryStartThreads(ctx context.Context, v *vm, mon monitor, pin *command.Pinning) (*startThreads, error) {
	var th startThreads
	g := guestCgroup(v)
	cg := g != nil && (g.Has(cgroup.CPU) || g.Has(cgroup.CPUSet))
	pinVCPU := pin != nil && (pin.VCPU != nil || pin.Default != nil || pin.VCPUSched != nil)
	pinIO := pin != nil && (pin.IOThread != nil || pin.Default != nil || pin.IOThreadSched != nil)
	// QEMU has iothreads only from the -object iothread the builder
	// writes for these ids: without any, query-iothreads would answer
	// an empty list.
	v.mu.Lock()
	hasIOThreads := v.live != nil && len(v.live.IOThreadIDs()) > 0
	v.mu.Unlock()
	if cg || pinVCPU {
		if err := mon.Execute(ctx, "query-cpus-fast", nil, &th.vcpus); err != nil {
			return nil, err
		}
	}
	if hasIOThreads && (cg || pinIO) {
		if err := mon.Execute(ctx, "query-iothreads", nil, &th.iothreads); err != nil {
			return nil, err
		}
	}
	return &th, nil
}
