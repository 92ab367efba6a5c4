package qemu

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"govirt/internal/cgroup"
)

// On a cgroup v1 host the machine partition is one scheduling entity
// beside every task of the root group: a QEMU inside it waits for the
// partition's single share of the CPU, which on a loaded host is a
// fraction of a core shared by every running guest. A start's last
// monitor round trip, cont, waited there about 100 ms of the 700 a
// start took with 20 at once. So a plain start places QEMU's own
// threads (the main loop, which answers the monitor, and its helpers)
// into the emulator group of the v1 CPU hierarchies only once cont has
// answered, while the vCPU and iothread threads are in their groups
// before it as always: no guest code runs outside the guest's groups,
// and the emulator group, with its pin and bandwidth, exists before cont.
// The placement ends before the start's status is written, and a daemon
// killed before that finds a half-started guest, which it kills.

// emuLate is what the deferred placement needs.
type emuLate struct {
	group *cgroup.Group // the emulator sub-group
	pid   int
	skip  map[int]bool // the vCPU and iothread threads, placed already
}

// deferEmulator reports whether the emulator move into g may wait for
// cont: only when v's start asked for it and every CPU controller of g is
// on v1.
func deferEmulator(v *vm, g *cgroup.Group) bool {
	v.mu.Lock()
	late := v.lateEmulator
	v.mu.Unlock()
	return late && g != nil && g.SplitThreads()
}

func setEmuLate(v *vm, e *emuLate) {
	v.ext.cgMu.Lock()
	v.ext.emuLate = e
	v.ext.cgMu.Unlock()
}

// finishEmulatorPlacement moves QEMU's threads but the vCPU and iothread
// ones into the emulator group, the main thread first: threads it starts
// meanwhile are born there. A second pass picks up threads another
// thread started while the first ran. Nothing to do when the start did
// not defer the placement.
func (d *Driver) finishEmulatorPlacement(v *vm) error {
	v.ext.cgMu.Lock()
	e := v.ext.emuLate
	v.ext.emuLate = nil
	v.ext.cgMu.Unlock()
	if e == nil {
		return nil
	}
	if err := e.group.AddThread(e.pid); err != nil {
		return cgErr(err)
	}
	done := map[int]bool{e.pid: true}
	for pass := 0; pass < 2; pass++ {
		ents, err := os.ReadDir("/proc/" + strconv.Itoa(e.pid) + "/task")
		if err != nil {
			return cgErr(err)
		}
		for _, ent := range ents {
			tid, err := strconv.Atoi(ent.Name())
			if err != nil || done[tid] || e.skip[tid] {
				continue
			}
			done[tid] = true
			// A thread that ended meanwhile has nothing to place.
			if err := e.group.AddThread(tid); err != nil && !errors.Is(err, syscall.ESRCH) {
				return cgErr(err)
			}
		}
	}
	return nil
}
