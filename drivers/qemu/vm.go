package qemu

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/caps"
	"govirt/uuid"
)

// vm is one guest. Fields under mu are the cached state every read API
// answers from; mu is never held while talking to QEMU.
type vm struct {
	uuid uuid.UUID

	mu   stateMu // a sync.Mutex that counts unlocks (list_snap.go)
	name string
	def  *conf.Domain // persistent definition; nil for transient guests
	// live is the running definition, nil when inactive. Like def it is
	// never changed in place: a change clones it and swaps the pointer
	// (editDisk), so a reader may use what it took under mu after
	// unlocking.
	live *conf.Domain
	// origCPU is the <cpu> the current run was started with when QEMU
	// changed it (libvirt's priv->origCPU): migratable XML and save
	// images carry it instead of the live one.
	origCPU []byte
	// resetNVRAM asks the next launch to recreate the UEFI varstore from
	// its template (virsh start --reset-nvram); the launch clears it.
	resetNVRAM bool
	// lateEmulator asks the next launch to leave QEMU's own threads out
	// of the guest's v1 CPU groups until the caller's cont
	// (emulator_late.go); the launch clears it.
	lateEmulator bool
	id           int32
	state        driver.State
	reason       int32
	autostart    bool
	persistent   bool
	proc         *process   // nil when inactive
	mon          monitor    // nil when inactive or not connected
	caps         *caps.Caps // the running QEMU's capabilities
	capsJSON     []byte     // caps as status files store them
	brokenMsg    string     // set when govirtd cannot manage this guest
	mig          *migration // the migration in progress, if any
	startedAt    time.Time
	// removed is set once the guest left the registry (undefined while
	// inactive, or a transient guest that stopped), as libvirt's
	// virDomainObj.removing: a caller that looked it up just before sees
	// "no domain" instead of acting on a guest that no longer exists.
	// It is atomic so the registry can read it under its own lock.
	removed atomic.Bool
	// last is the definition reads fall back on once both def and live
	// are gone, so current() is never nil.
	last *conf.Domain
	// Flags that steer QMP event handling, as libvirt keeps them.
	fakeReboot     bool
	pausedShutdown bool
	beingDestroyed bool
	runningReason  int32 // reason for the next RESUME
	// contPending counts cont commands in flight (startCPUsThen): their
	// RESUME event leaves the status write to the caller of cont, who
	// writes it once cont returned (see handleResume).
	contPending  int
	pausedReason int32 // reason for the next STOP

	// run counts the QEMU processes this guest had; runCtx ends when the
	// current one is cleaned up, so work queued for one run (event
	// handling waiting for the job, a start racing a destroy) never acts
	// on the next.
	run     uint64
	runCtx  context.Context
	runStop context.CancelFunc

	// The guest's one status writer: stSeq numbers snapshots, stDone is
	// the newest written, stMu orders writes and the removal.
	stMu   sync.Mutex
	stSeq  uint64
	stDone uint64

	// What the async job records for recovery (see statusJob).
	jobSnap     *snapRecord
	jobPreState driver.State

	job  *jobObj
	work *worker

	// ext is the per-guest state of the driver's subsystems (vm_ext.go),
	// created and freed with the guest.
	ext vmExt
}

// newRun starts a new QEMU run; call with mu held.
func (v *vm) newRun() uint64 {
	if v.runStop != nil {
		v.runStop()
	}
	v.run++
	v.runCtx, v.runStop = context.WithCancel(context.Background())
	return v.run
}

// endRun ends the current run; call with mu held.
func (v *vm) endRun() {
	if v.runStop != nil {
		v.runStop()
	}
}

// runContext is the current run's context and number; one that is
// already done when no QEMU runs.
func (v *vm) runContext() (context.Context, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.runContextLocked()
}

// runContextLocked is runContext with mu held.
func (v *vm) runContextLocked() (context.Context, uint64) {
	if !v.active() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, v.run
	}
	if v.runCtx == nil || v.runCtx.Err() != nil {
		v.newRun()
	}
	return v.runCtx, v.run
}

func newVM(def *conf.Domain, persistent bool) *vm {
	v := &vm{
		uuid: def.UUID, name: def.Name, id: -1,
		state: driver.StateShutoff, reason: driver.ShutoffUnknown,
		persistent: persistent, job: newJobObj(), work: newWorker(),
	}
	if persistent {
		v.def = def
	} else {
		v.live = def
	}
	v.last = def
	guestObjects.Add(1)
	runtime.AddCleanup(v, func(struct{}) { guestObjects.Add(-1) }, struct{}{})
	return v
}

// guestObjects counts the vm objects not yet garbage collected: a count,
// not a table, so it keeps no guest alive.
var guestObjects atomic.Int64

// GuestObjects is the number of guest objects still in memory after a
// garbage collection (cleanups run on their own goroutine: it waits a
// moment for them). A guest that was undefined, or a transient one that
// stopped, must not stay reachable; the fault-injection suite reads this
// through govirtd's GOVIRT_DEBUG_SOCKET.
func GuestObjects() int {
	n := guestObjects.Load()
	for i := 0; i < 20; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		m := guestObjects.Load()
		if m == n && i >= 2 {
			break
		}
		n = m
	}
	return int(n)
}

// handle is the wire identity; call with mu held.
func (v *vm) handle() driver.Domain {
	return driver.Domain{Name: v.name, UUID: v.uuid, ID: v.id}
}

// active reports whether a QEMU process exists; call with mu held.
func (v *vm) active() bool { return v.id >= 0 }

// current is the definition reads show: live when running; call with mu held.
func (v *vm) current() *conf.Domain {
	if v.live != nil {
		return v.live
	}
	if v.def != nil {
		return v.def
	}
	return v.last
}

// goneErr is libvirt's error for a guest removed after it was looked up
// (virDomainObjBeginJobInternal's check of removing); call with mu held.
func (v *vm) goneErr() error {
	if !v.removed.Load() {
		return nil
	}
	return errNoDomainUUID(v.uuid.String(), v.name)
}

// setState changes state and reason; call with mu held.
func (v *vm) setState(s driver.State, reason int32) {
	v.state, v.reason = s, reason
}
