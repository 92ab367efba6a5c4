package test

import (
	"sort"
	"sync/atomic"

	"govirt/conf"
	"govirt/driver"
	"govirt/events"
	"govirt/uuid"
)

// cell is one NUMA cell of the fake host.
type cell struct {
	cpus    int
	mem     uint64 // KiB
	freeMem uint64 // KiB
}

// instance is one fake hypervisor: the state every connection to the same
// URI shares. One RWMutex guards all of it; read-only calls take the read
// lock so that monitoring clients do not serialise each other.
type instance struct {
	refs int // guarded by Driver.mu

	mu     countedRWMutex
	bus    *events.Bus
	node   driver.NodeInfo
	cells  []cell
	nextID int32

	doms       map[uuid.UUID]*domObj
	domsByName map[string]*domObj
	domsByID   map[int32]*domObj
	// domList caches the domains sorted by name; nil when stale. Readers
	// fill it under the read lock, writers clear it under the write lock.
	domList atomic.Pointer[[]*domObj]
	// domSnap is what ListAllDomains answers from (list.go).
	domSnap atomic.Pointer[listSnap]

	nets     map[string]*netObj // by name
	pools    map[string]*poolObj
	ifaces   []*ifaceObj
	devs     nodeDevList
	ifaceTxn ifaceTxn
	capsXML  string
}

func newInstance() *instance {
	return &instance{
		bus:        events.New(),
		nextID:     1,
		doms:       map[uuid.UUID]*domObj{},
		domsByName: map[string]*domObj{},
		domsByID:   map[int32]*domObj{},
		nets:       map[string]*netObj{},
		pools:      map[string]*poolObj{},
	}
}

// domObj is one domain. def is what the domain runs with (or its config
// when shut off); while a persistent domain runs, newDef holds the config
// it will return to, as libvirt's virDomainObj does, so that live-only
// changes vanish at shutdown.
type domObj struct {
	def        *conf.Domain
	newDef     *conf.Domain
	id         int32
	state      driver.State
	reason     int32
	persistent bool
	autostart  bool
	managed    bool    // has a managed save image
	frozen     [2]bool // guest file systems "/" and "/boot" frozen (FSFreeze)

	// Tunables conf does not model; libvirt keeps them in the def.
	hardLimit, softLimit, swapHardLimit uint64
	blkioWeight                         uint32

	snaps *snapshotList
	chks  *checkpointList

	// The guest time testDomainGetTime reports (domain_agentcalls.go).
	seconds  int64
	nseconds uint32

	// The iothreads' polling parameters (testIOThreadInfo), kept apart
	// from the definition as libvirt's private data: filled from the
	// node file, iothreadadd and iothreaddel, read by domstats.
	iothreads []ioThreadPoll
}

// unlimited is VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, the default memtune value.
const unlimited = uint64(9007199254740991)

func newDomObj(def *conf.Domain) *domObj {
	return &domObj{
		def: def, id: -1, state: driver.StateShutoff,
		hardLimit: unlimited, softLimit: unlimited, swapHardLimit: unlimited,
		snaps: newSnapshotList(),
		chks:  newCheckpointList(),
		// testDomainObjPrivateAlloc's guest clock.
		seconds: 627319920,
	}
}

func (o *domObj) active() bool { return o.id >= 0 }

func (o *domObj) handle() driver.Domain {
	return driver.Domain{Name: o.def.Name, UUID: o.def.UUID, ID: o.id}
}

// persistentDef is the definition the domain boots from next time.
func (o *domObj) persistentDef() *conf.Domain {
	if o.newDef != nil {
		return o.newDef
	}
	return o.def
}

func (in *instance) addDom(o *domObj) {
	in.doms[o.def.UUID] = o
	in.domsByName[o.def.Name] = o
	if o.id >= 0 {
		in.domsByID[o.id] = o
	}
	in.domList.Store(nil)
}

func (in *instance) removeDom(o *domObj) {
	delete(in.doms, o.def.UUID)
	delete(in.domsByName, o.def.Name)
	if o.id >= 0 {
		delete(in.domsByID, o.id)
	}
	in.domList.Store(nil)
}

// sortedDoms returns the domains ordered by name. The slice is cached
// between changes because listing is the hottest call of monitoring
// clients; callers must not modify it. Call with at least the read lock.
func (in *instance) sortedDoms() []*domObj {
	if l := in.domList.Load(); l != nil {
		return *l
	}
	l := make([]*domObj, 0, len(in.doms))
	for _, o := range in.doms {
		l = append(l, o)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].def.Name < l[j].def.Name })
	in.domList.Store(&l)
	return l
}
