package qemu

import (
	"sync"
	"sync/atomic"

	"govirt/driver"
)

// CONNECT_LIST_ALL_DOMAINS answers from an immutable snapshot of every
// guest's handle and list facts, so that a listing of 1,000 unchanged
// guests neither locks nor copies each of them nor allocates: monitoring
// clients list all the time, guests rarely change.
//
// A guest's state only changes under vm.mu, so each unlock counts as a
// possible change: per guest (stateMu.gen) and for the package
// (vmUnlocks). While vmUnlocks stays what the snapshot saw, nothing
// changed. Otherwise the guests whose own count moved are read again, and
// a new snapshot is built only if what a listing shows differs.

// listCache is what the Driver keeps for listings.
type listCache struct {
	saves saveIndex
	snap  atomic.Pointer[listSnap]
}

// vmUnlocks counts every vm.mu unlock in the process.
var vmUnlocks atomic.Uint64

// stateMu is vm.mu: a mutex that counts its unlocks.
type stateMu struct {
	sync.Mutex
	gen atomic.Uint64
}

func (m *stateMu) Unlock() {
	m.gen.Add(1)
	vmUnlocks.Add(1)
	m.Mutex.Unlock()
}

// listSnap is one snapshot. Only gens and seen change once it is
// published; doms is handed to callers as is and never modified.
type listSnap struct {
	src   *[]*vm          // the registry's sorted guests it mirrors
	saved *saveSet        // the managed save set it used
	seen  atomic.Uint64   // a vmUnlocks value at which it was known current
	gens  []atomic.Uint64 // per guest, a stateMu.gen at which its entry was current
	facts []driver.ListFacts
	doms  []driver.Domain
}

// listEntry reads what a listing shows of v, and the unlock count that
// goes with it.
func listEntry(v *vm, saved *saveSet) (driver.Domain, driver.ListFacts, uint64) {
	v.mu.Lock()
	h := v.handle()
	f := driver.ListFacts{Active: v.active(), Persistent: v.persistent, Autostart: v.autostart,
		State: v.state, ManagedSave: saved.has(v.name)}
	g := v.mu.gen.Load()
	// Reading changes nothing: release without counting an unlock.
	v.mu.Mutex.Unlock()
	return h, f, g
}

// listing returns the current snapshot, refreshing it as needed.
func (d *Driver) listing() *listSnap {
	seen := vmUnlocks.Load()
	src := d.doms.sortedRef()
	saved := d.managedSaves()
	s := d.lists.snap.Load()
	if s != nil && s.src == src && s.saved == saved {
		if s.seen.Load() == seen {
			return s
		}
		if s.refresh(saved) {
			s.seen.Store(seen)
			return s
		}
	}
	vms := *src
	n := &listSnap{src: src, saved: saved, gens: make([]atomic.Uint64, len(vms)),
		facts: make([]driver.ListFacts, len(vms)), doms: make([]driver.Domain, len(vms))}
	for i, v := range vms {
		var g uint64
		n.doms[i], n.facts[i], g = listEntry(v, saved)
		n.gens[i].Store(g)
	}
	n.seen.Store(seen)
	d.lists.snap.Store(n)
	return n
}

// refresh re-reads the guests whose unlock count moved and reports
// whether s still shows them as they are.
func (s *listSnap) refresh(saved *saveSet) bool {
	for i, v := range *s.src {
		if v.mu.gen.Load() == s.gens[i].Load() {
			continue
		}
		h, f, g := listEntry(v, saved)
		if h != s.doms[i] || f != s.facts[i] {
			return false
		}
		s.gens[i].Store(g)
	}
	return true
}
