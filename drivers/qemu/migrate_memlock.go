package qemu

import (
	"syscall"
	"unsafe"

	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// Zero-copy migration (--zerocopy, QEMU's zero-copy-send) needs the pages
// being sent locked in host memory, and how many are at once cannot be
// told in advance: as libvirt 9.0's qemuMigrationSrcRun, the source raises
// its QEMU's RLIMIT_MEMLOCK to the guest's memory (its memtune hard limit
// when it has one) unless the limit is already that high, keeps the
// previous limit in the migration's status and puts it back when the
// migration fails (qemuDomainSetMaxMemLock). A host that does not let
// this daemon raise it fails the migration with libvirt's error.

// rlimitMemlock is RLIMIT_MEMLOCK (8 on Linux).
const rlimitMemlock = 8

type rlimit64 struct{ cur, max uint64 }

// prlimitMemlock reads (and, with set, changes) a process's
// RLIMIT_MEMLOCK: both the soft and the hard limit, as libvirt.
func prlimitMemlock(pid int, set *uint64) (uint64, error) {
	var old rlimit64
	var nw *rlimit64
	if set != nil {
		nw = &rlimit64{*set, *set}
	}
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(rlimitMemlock),
		uintptr(unsafe.Pointer(nw)), uintptr(unsafe.Pointer(&old)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return old.max, nil
}

// zeroCopyMemlockLimit is the limit a --zerocopy migration of v needs,
// in bytes.
func zeroCopyMemlockLimit(v *vm) uint64 {
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	if live == nil {
		return 0
	}
	if t, err := command.ParseTunables(live); err == nil && t.HardLimit != command.MemUnlimited && t.HardLimit != 0 {
		return t.HardLimit << 10
	}
	return live.Memory << 10
}

// raiseMemlock is the source's step before QEMU migrates with
// --zerocopy.
func (d *Driver) raiseMemlock(v *vm, m *migration, flags uint32) error {
	if flags&migrateZeroCopy == 0 {
		return nil
	}
	limit := zeroCopyMemlockLimit(v)
	v.mu.Lock()
	proc := v.proc
	v.mu.Unlock()
	if proc == nil || limit == 0 {
		return nil
	}
	cur, err := prlimitMemlock(proc.pid, nil)
	if err != nil {
		return virerr.New(virerr.FromNone, virerr.ErrSystemError, "cannot get locked memory limit of process %d: %s", proc.pid, errnoText(err))
	}
	if cur >= limit {
		return nil // already enough (someone else manages it)
	}
	v.mu.Lock()
	if m.PreMemlock == 0 {
		m.PreMemlock = cur
	}
	v.mu.Unlock()
	if _, err := prlimitMemlock(proc.pid, &limit); err != nil {
		return virerr.New(virerr.FromNone, virerr.ErrSystemError, "cannot limit locked memory of process %d to %d: %s", proc.pid, limit, errnoText(err))
	}
	d.saveStatusLogged(v)
	return nil
}

// resetMemlock puts back the limit raiseMemlock replaced, once the
// guest stays here after a failed migration.
func (d *Driver) resetMemlock(v *vm, m *migration) {
	v.mu.Lock()
	prev, proc := m.PreMemlock, v.proc
	m.PreMemlock = 0
	v.mu.Unlock()
	if prev == 0 || proc == nil {
		return
	}
	if _, err := prlimitMemlock(proc.pid, &prev); err != nil {
		d.log.Warn("cannot reset the locked memory limit", "domain", v.name, "err", err)
	}
}
