package qemu

import (
	"context"
	"sync"
	"time"
)

// Statistics read from QEMU come from one batch of monitor queries per
// guest (a "sample"), cached briefly so that virsh domstats over many
// guests, or a monitoring tool polling every guest, costs each QEMU one
// batch per statsMaxAge. A guest whose monitor is slow or stuck never
// delays the others: callers wait at most statsWait for a fresh sample
// and otherwise get the last one (or none), while the batch keeps running
// in the background; only one batch per guest is ever in flight, so a
// stuck monitor does not pile up commands.

var (
	statsMaxAge    = time.Second
	statsWait      = 2 * time.Second
	statsQMPBudget = 10 * time.Second // whole batch, in the background
)

// statsSample is what one batch read from QEMU.
type statsSample struct {
	at         time.Time
	devices    []blockStatEntry // query-blockstats: per device (qdev)
	nodes      []blockStatEntry // query-blockstats query-nodes: per node
	named      []namedNode      // query-named-block-nodes flat
	balloonKiB *uint64          // query-balloon "actual"
	guestStats *guestStats      // qom-get guest-stats of the balloon
	vcpus      []cpuFast        // query-cpus-fast
}

type blockStatEntry struct {
	Device   string `json:"device"`
	QDev     string `json:"qdev"`
	NodeName string `json:"node-name"`
	Stats    struct {
		RdBytes          int64  `json:"rd_bytes"`
		WrBytes          int64  `json:"wr_bytes"`
		RdOps            int64  `json:"rd_operations"`
		WrOps            int64  `json:"wr_operations"`
		FlushOps         int64  `json:"flush_operations"`
		RdTotalTimeNs    int64  `json:"rd_total_time_ns"`
		WrTotalTimeNs    int64  `json:"wr_total_time_ns"`
		FlushTotalTimeNs int64  `json:"flush_total_time_ns"`
		WrHighestOffset  uint64 `json:"wr_highest_offset"`
	} `json:"stats"`
}

type namedNode struct {
	NodeName string `json:"node-name"`
	Drv      string `json:"drv"`
	Image    struct {
		VirtualSize uint64 `json:"virtual-size"`
		ActualSize  uint64 `json:"actual-size"`
	} `json:"image"`
}

type guestStats struct {
	Stats      map[string]int64 `json:"stats"`
	LastUpdate int64            `json:"last-update"`
}

type cpuFast struct {
	CPUIndex int `json:"cpu-index"`
	ThreadID int `json:"thread-id"`
}

// statsEntry is one guest's cache: the last sample and the batch in
// flight, if any (done is closed when it finishes).
type statsEntry struct {
	last *statsSample
	done chan struct{}
}

var statsCache = struct {
	sync.Mutex
	m map[*vm]*statsEntry
}{m: map[*vm]*statsEntry{}}

// sample returns a sample of v no older than statsMaxAge when one can be
// had within statsWait, else the last one (nil if there never was one).
// It never blocks longer than statsWait.
func (d *Driver) sample(v *vm) *statsSample {
	v.mu.Lock()
	mon, active, started := v.mon, v.active(), v.startedAt
	balloonAlias := ""
	if v.live != nil && v.live.Devices.MemBalloon != nil && v.live.Devices.MemBalloon.Model == "virtio" {
		balloonAlias = v.live.Devices.MemBalloon.Alias
	}
	// A guest without disks has no block statistics to read; a disk
	// hotplugged later drops the cached sample (forgetStats).
	block := v.live != nil && len(v.live.Devices.Disks) > 0
	v.mu.Unlock()
	if !active || mon == nil {
		return nil
	}
	statsCache.Lock()
	e := statsCache.m[v]
	if e == nil {
		e = &statsEntry{}
		statsCache.m[v] = e
	}
	if e.last != nil && e.last.at.Before(started) {
		e.last = nil // from an earlier run of the guest
	}
	if e.last != nil && time.Since(e.last.at) < statsMaxAge {
		s := e.last
		statsCache.Unlock()
		return s
	}
	done := e.done
	if done == nil {
		done = make(chan struct{})
		e.done = done
		go func() {
			s := querySample(mon, balloonAlias, block)
			statsCache.Lock()
			if s != nil {
				e.last = s
			}
			e.done = nil
			statsCache.Unlock()
			close(done)
		}()
	}
	statsCache.Unlock()
	select {
	case <-done:
	case <-time.After(statsWait):
	}
	statsCache.Lock()
	defer statsCache.Unlock()
	return e.last
}

// forgetStats drops a guest's cache (after it stopped, or after a device
// change that makes the cached sample misleading).
func forgetStats(v *vm) {
	statsCache.Lock()
	if e := statsCache.m[v]; e != nil && e.done == nil {
		delete(statsCache.m, v)
	} else if e != nil {
		e.last = nil
	}
	statsCache.Unlock()
}

// querySample runs the batch. Each query may fail on its own (an old
// QEMU, no balloon driver in the guest); the others still count. nil
// means the monitor answered nothing at all. The queries are sent
// together rather than one after the other: QEMU answers them in one go
// instead of once per wake-up, which on a host busy with many guests
// costs a scheduling delay per command (virsh domstats over 200 guests).
// The block queries are left out for a guest without disks.
func querySample(mon monitor, balloonAlias string, block bool) *statsSample {
	ctx, cancel := context.WithTimeout(context.Background(), statsQMPBudget)
	defer cancel()
	s := &statsSample{}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ok  bool
		bal struct {
			Actual uint64 `json:"actual"`
		}
		gs             guestStats
		balOK, guestOK bool
	)
	try := func(cmd string, args, ret any, done *bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := mon.Execute(ctx, cmd, args, ret)
			mu.Lock()
			ok = ok || err == nil
			if done != nil {
				*done = err == nil
			}
			mu.Unlock()
		}()
	}
	if block {
		try("query-blockstats", nil, &s.devices, nil)
		try("query-blockstats", map[string]any{"query-nodes": true}, &s.nodes, nil)
		try("query-named-block-nodes", map[string]any{"flat": true}, &s.named, nil)
	}
	try("query-balloon", nil, &bal, &balOK)
	if balloonAlias != "" {
		try("qom-get", map[string]any{"path": "/machine/peripheral/" + balloonAlias, "property": "guest-stats"}, &gs, &guestOK)
	}
	try("query-cpus-fast", nil, &s.vcpus, nil)
	wg.Wait()
	if !ok {
		return nil
	}
	if balOK {
		kib := bal.Actual / 1024
		s.balloonKiB = &kib
	}
	if guestOK {
		s.guestStats = &gs
	}
	s.at = time.Now()
	return s
}

// frontend finds the device-level stats of a disk by its alias: QEMU
// names the frontend by its id, or by the QOM path of the virtio backend.
func (s *statsSample) frontend(alias string) *blockStatEntry {
	if s == nil || alias == "" {
		return nil
	}
	for i := range s.devices {
		q := s.devices[i].QDev
		if q == alias || q == "/machine/peripheral/"+alias || q == "/machine/peripheral/"+alias+"/virtio-backend" {
			return &s.devices[i]
		}
	}
	return nil
}

// node finds the node-level stats and image data of a node name.
func (s *statsSample) node(name string) (*blockStatEntry, *namedNode) {
	if s == nil || name == "" {
		return nil, nil
	}
	var st *blockStatEntry
	var nn *namedNode
	for i := range s.nodes {
		if s.nodes[i].NodeName == name {
			st = &s.nodes[i]
		}
	}
	for i := range s.named {
		if s.named[i].NodeName == name {
			nn = &s.named[i]
		}
	}
	return st, nn
}
