package qemu

import (
	"context"
	"sync"
	"time"

	"govirt/qmp"
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
	iothreads  []ioThreadMon    // query-iothreads (libvirt's iothreadN only)
	dirtyRate  *dirtyRateInfo   // query-dirty-rate (dirtyrate.go)
}

type blockStatEntry = qmp.BlockStats

type namedNode = qmp.BlockNode

type guestStats struct {
	Stats      map[string]int64 `json:"stats"`
	LastUpdate int64            `json:"last-update"`
}

type cpuFast = qmp.CPUInfoFast

// statsEntry is one guest's cache (v.ext.stats, under v.ext.statsMu):
// the last sample and the batch in flight, if any (done is closed when it
// finishes).
type statsEntry struct {
	last *statsSample
	done chan struct{}
}

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
	mu, e := &v.ext.statsMu, &v.ext.stats
	mu.Lock()
	if e.last != nil && e.last.at.Before(started) {
		e.last = nil // from an earlier run of the guest
	}
	if e.last != nil && time.Since(e.last.at) < statsMaxAge {
		s := e.last
		mu.Unlock()
		return s
	}
	done := e.done
	if done == nil {
		done = make(chan struct{})
		e.done = done
		go func() {
			s := querySample(mon, balloonAlias, block)
			mu.Lock()
			if s != nil {
				e.last = s
			}
			e.done = nil
			mu.Unlock()
			close(done)
		}()
	}
	mu.Unlock()
	select {
	case <-done:
	case <-time.After(statsWait):
	}
	mu.Lock()
	defer mu.Unlock()
	return e.last
}

// forgetStats drops a guest's cache (after it stopped, or after a device
// change that makes the cached sample misleading).
func forgetStats(v *vm) {
	v.ext.statsMu.Lock()
	v.ext.stats.last = nil
	v.ext.statsMu.Unlock()
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
	// The queries go out together: QEMU answers them in order, but the
	// monitor round trips overlap instead of adding up.
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok bool
	)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f()
			mu.Lock()
			ok = ok || err == nil
			mu.Unlock()
		}()
	}
	// Each query fills its own field of s; wg.Wait orders them before
	// the reads below.
	if block {
		run(func() (err error) { s.devices, err = qmp.QueryBlockstats(ctx, mon, false); return })
		run(func() (err error) { s.nodes, err = qmp.QueryBlockstats(ctx, mon, true); return })
		run(func() (err error) { s.named, err = qmp.QueryNamedBlockNodes(ctx, mon); return })
	}
	run(func() error {
		bal, err := qmp.QueryBalloon(ctx, mon)
		if err == nil {
			kib := bal.Actual / 1024
			s.balloonKiB = &kib
		}
		return err
	})
	if balloonAlias != "" {
		run(func() error {
			var gs guestStats
			err := qmp.QOMGet(ctx, mon, "/machine/peripheral/"+balloonAlias, "guest-stats", &gs)
			if err == nil {
				s.guestStats = &gs
			}
			return err
		})
	}
	run(func() (err error) { s.vcpus, err = qmp.QueryCPUsFast(ctx, mon); return })
	run(func() (err error) { s.iothreads, err = queryIOThreads(ctx, mon); return })
	run(func() error {
		var info dirtyRateInfo
		err := mon.Execute(ctx, "query-dirty-rate", nil, &info)
		if err == nil {
			s.dirtyRate = &info
		}
		return err
	})
	wg.Wait()
	if !ok {
		return nil
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
