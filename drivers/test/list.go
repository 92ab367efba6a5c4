package test

import (
	"sync"
	"sync/atomic"

	"govirt/driver"
)

// Listing all domains is what monitoring clients do all the time, and
// domains rarely change in between. So ListAllDomains answers from an
// immutable snapshot of every domain's handle and list facts, built again
// only after the instance was write-locked: everything that changes a
// domain holds the write lock, and the lock counts its write unlocks.

// countedRWMutex is instance.mu: a sync.RWMutex counting write unlocks.
type countedRWMutex struct {
	sync.RWMutex
	writes atomic.Uint64
}

func (m *countedRWMutex) Unlock() {
	m.writes.Add(1)
	m.RWMutex.Unlock()
}

// listSnap is one snapshot; nothing in it changes once published, and
// doms is handed to callers as is.
type listSnap struct {
	writes uint64 // instance.mu's write count it was built at
	doms   []driver.Domain
	facts  []driver.ListFacts
}

// listing returns the current snapshot; call with at least the read lock
// (no write can then be in progress, so the count is exact).
func (in *instance) listing() *listSnap {
	w := in.mu.writes.Load()
	if s := in.domSnap.Load(); s != nil && s.writes == w {
		return s
	}
	all := in.sortedDoms()
	s := &listSnap{writes: w, doms: make([]driver.Domain, len(all)), facts: make([]driver.ListFacts, len(all))}
	for i, o := range all {
		s.doms[i], s.facts[i] = o.handle(), o.listFacts()
	}
	// Readers building at once store equal snapshots.
	in.domSnap.Store(s)
	return s
}
