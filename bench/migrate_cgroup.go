package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"govirt/internal/cgroup"
)

// libvirtd here runs with qemu.conf's cgroup_controllers = [] (the
// baseline script's setting), so its QEMUs stay in the root cpu group,
// while govirtd places each guest below /machine. On this cgroup v1 host
// the partition is one scheduling entity beside every root-group task,
// and other sessions' guests run there too: under load a QEMU in it gets
// a fraction of the CPU one in the root group gets, whichever daemon
// started it. With -mig-cgroup the bench moves libvirtd's QEMUs (and the
// floor's) into a group of their own below that partition right after
// they appear, as govirtd places its own, so that every leg's QEMUs
// compete alike; "" leaves them where their starter put them.
var migCgroup = flag.String("mig-cgroup", "/machine", "migrate suite: partition libvirtd's and the floor's QEMUs are moved into, as govirtd places its guests (\"\": left where they are)")

func migPlacing() bool { return *migCgroup != "" && os.Geteuid() == 0 }

// qemuPids lists the QEMU processes started for guest name (-name
// guest=NAME,...), whichever daemon started them.
func qemuPids(name string) map[int]bool {
	out := map[int]bool{}
	ents, _ := os.ReadDir("/proc")
	want := []byte("guest=" + name + ",")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, want) {
			out[pid] = true
		}
	}
	return out
}

// migGroups is the groups the bench made for one migration; remove
// deletes them once their QEMUs are gone.
type migGroups struct {
	mu sync.Mutex
	gs []*cgroup.Group
}

func (m *migGroups) place(pid int) error {
	g, err := floorGroup(*migCgroup, pid) // start.go
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.gs = append(m.gs, g)
	m.mu.Unlock()
	return nil
}

func (m *migGroups) remove() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.gs {
		for i := 0; i < 100 && g.Remove() != nil; i++ { // its QEMU is still exiting
			time.Sleep(20 * time.Millisecond)
		}
	}
	m.gs = nil
}

// placeExisting moves the running QEMU of guest name into a group.
func (m *migGroups) placeExisting(name string) error {
	pids := qemuPids(name)
	if len(pids) != 1 {
		return fmt.Errorf("%d QEMU processes for %s", len(pids), name)
	}
	for pid := range pids {
		return m.place(pid)
	}
	return nil
}

// placeNew moves the next QEMU started for guest name (the destination's,
// spawned in Prepare) into a group as soon as it appears; call the
// returned function when the migration is over.
func (m *migGroups) placeNew(name string) func() error {
	before := qemuPids(name)
	done := make(chan struct{})
	res := make(chan error, 1)
	go func() {
		for {
			for pid := range qemuPids(name) {
				if !before[pid] {
					res <- m.place(pid)
					return
				}
			}
			select {
			case <-done:
				res <- fmt.Errorf("no new QEMU for %s", name)
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() error {
		close(done)
		return <-res
	}
}
