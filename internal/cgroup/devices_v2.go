package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// cgroup v2 has no devices controller file: a device list is a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the group, which looks
// the device up in a BPF hash map (libvirt's vircgroupv2devices.c:
// same key and value layout, an initial 64 entries, doubled into a new
// map and program when full). Allowing or denying a device changes the
// map only, so hot-plug never reloads the program. A group found again
// after a daemon restart takes over the program and map attached to it.

const (
	devMapInitial = 64
	devWildcard   = 0xffffffff
	devMaxProgs   = 10
)

// devBPF is a group's program and map.
type devBPF struct {
	mu         sync.Mutex
	prog, mapf int // fds, -1 when none
	max, count int
}

// v2DevicesAvailable is virCgroupV2DevicesAvailable: the kernel answers a
// device program query on the unified root.
func v2DevicesAvailable(root string) bool {
	f, err := os.Open(root)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = bpfQueryDevice(int(f.Fd()), nil)
	return err == nil
}

func devKey(major, minor int) uint64 {
	return uint64(uint32(major))<<32 | uint64(uint32(minor))
}

// devPerms is the map value: access << 16 | device types ('a': both).
func devPerms(kind byte, perms string) uint32 {
	var v uint32
	for _, c := range perms {
		switch c {
		case 'm':
			v |= bpfAccMknod << 16
		case 'r':
			v |= bpfAccRead << 16
		case 'w':
			v |= bpfAccWrite << 16
		}
	}
	switch kind {
	case 'b':
		v |= bpfDevBlock
	case 'c':
		v |= bpfDevChar
	default:
		v |= bpfDevBlock | bpfDevChar
	}
	return v
}

func (g *Group) bpfState() *devBPF {
	g.devMu.Lock()
	defer g.devMu.Unlock()
	if g.dev == nil {
		g.dev = &devBPF{prog: -1, mapf: -1}
	}
	return g.dev
}

// detect takes over the program attached to the group, if any
// (virCgroupV2DevicesDetectProg).
func (d *devBPF) detect(dir string) error {
	if d.prog >= 0 && d.mapf >= 0 {
		return nil
	}
	cg, err := os.Open(dir)
	if err != nil {
		return sysErr(err, "unable to open '%s'", dir)
	}
	defer cg.Close()
	ids := heapU32s(devMaxProgs)
	n, err := bpfQueryDevice(int(cg.Fd()), ids)
	if err != nil {
		return sysErr(err, "unable to query cgroup BPF progs")
	}
	if n == 0 {
		return nil
	}
	prog, err := bpfGetFDByID(bpfProgGetFDByID, ids[0])
	if err != nil {
		return sysErr(err, "failed to get cgroup BPF prog FD")
	}
	mapID, ok, err := bpfProgMapID(prog)
	if err != nil || !ok {
		syscall.Close(prog)
		if err == nil {
			return &Error{Msg: "no map for cgroup BPF prog"}
		}
		return sysErr(err, "failed to get cgroup BPF prog info")
	}
	m, err := bpfGetFDByID(bpfMapGetFDByID, mapID)
	if err != nil {
		syscall.Close(prog)
		return sysErr(err, "failed to get cgroup BPF map FD")
	}
	max, err := bpfMapMaxEntries(m)
	if err != nil {
		syscall.Close(prog)
		syscall.Close(m)
		return sysErr(err, "failed to get cgroup BPF map info")
	}
	keys, err := bpfKeys(m)
	if err != nil {
		syscall.Close(prog)
		syscall.Close(m)
		return sysErr(err, "failed to count cgroup BPF map items")
	}
	d.prog, d.mapf, d.max, d.count = prog, m, max, len(keys)
	return nil
}

// attach loads a program over map m and attaches it to dir, replacing
// the group's earlier program and map.
func (d *devBPF) attach(dir string, m, max int) error {
	prog, err := bpfProgLoadDevice(deviceProgram(m))
	if err != nil {
		return sysErr(err, "failed to load cgroup BPF prog")
	}
	cg, err := os.Open(dir)
	if err != nil {
		syscall.Close(prog)
		return sysErr(err, "unable to open '%s'", dir)
	}
	defer cg.Close()
	if err := bpfAttachDevice(int(cg.Fd()), prog); err != nil {
		syscall.Close(prog)
		return sysErr(err, "failed to attach cgroup BPF prog")
	}
	d.close()
	d.prog, d.mapf, d.max = prog, m, max
	return nil
}

func (d *devBPF) close() {
	if d.prog >= 0 {
		syscall.Close(d.prog)
	}
	if d.mapf >= 0 {
		syscall.Close(d.mapf)
	}
	d.prog, d.mapf = -1, -1
}

// create attaches an empty map, which denies every device.
func (d *devBPF) create(dir string) error {
	m, err := bpfMapCreateHash(8, 4, devMapInitial)
	if err != nil {
		if err == syscall.EPERM {
			return sysErr(err, "failed to initialize device BPF map; locked memory limit for libvirtd probably needs to be raised")
		}
		return sysErr(err, "failed to initialize device BPF map")
	}
	if err := d.attach(dir, m, devMapInitial); err != nil {
		syscall.Close(m)
		return err
	}
	d.count = 0
	return nil
}

// prepare is virCgroupV2DevicesPrepareProg: a program exists and its map
// has room for one more entry.
func (d *devBPF) prepare(dir string) error {
	if err := d.detect(dir); err != nil {
		return err
	}
	if d.prog < 0 {
		if err := d.create(dir); err != nil {
			return err
		}
	}
	if d.count < d.max {
		return nil
	}
	max := d.max * 2
	m, err := bpfMapCreateHash(8, 4, uint32(max))
	if err != nil {
		return sysErr(err, "failed to initialize device BPF map")
	}
	keys, err := bpfKeys(d.mapf)
	if err != nil {
		syscall.Close(m)
		return sysErr(err, "failed to copy all device rules")
	}
	for _, k := range keys {
		if v, ok := bpfLookup(d.mapf, k); ok {
			if err := bpfUpdate(m, k, v); err != nil {
				syscall.Close(m)
				return sysErr(err, "failed to add device into new map")
			}
		}
	}
	if err := d.attach(dir, m, max); err != nil {
		syscall.Close(m)
		return err
	}
	return nil
}

func (g *Group) v2Dir() string { return filepath.Join(g.h.v2, g.rel) }

// v2DenyAll is virCgroupV2DenyAllDevices: a new, empty list (an existing
// program is kept when one is attached).
func (g *Group) v2DenyAll() error {
	d := g.bpfState()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.detect(g.v2Dir()); err != nil {
		return err
	}
	if d.prog >= 0 {
		return nil
	}
	return d.create(g.v2Dir())
}

func (g *Group) v2Allow(kind byte, major, minor int, perms string) error {
	d := g.bpfState()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.prepare(g.v2Dir()); err != nil {
		return err
	}
	key := devKey(major, minor)
	_, had := bpfLookup(d.mapf, key)
	if err := bpfUpdate(d.mapf, key, devPerms(kind, perms)); err != nil {
		return sysErr(err, "failed to update device in BPF cgroup map")
	}
	if !had {
		d.count++
	}
	return nil
}

func (g *Group) v2Deny(kind byte, major, minor int, perms string) error {
	d := g.bpfState()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.prepare(g.v2Dir()); err != nil {
		return err
	}
	key := devKey(major, minor)
	v, ok := bpfLookup(d.mapf, key)
	if d.count <= 0 || !ok {
		return nil // nothing allowed, nothing to take back
	}
	v &^= devPerms(kind, perms)
	if v == 0 {
		if err := bpfDelete(d.mapf, key); err != nil {
			return sysErr(err, "failed to remove device from BPF cgroup map")
		}
		d.count--
		return nil
	}
	if err := bpfUpdate(d.mapf, key, v); err != nil {
		return sysErr(err, "failed to update device in BPF cgroup map")
	}
	return nil
}

// v2List formats the map as devices.list would ("c 1:3 rw", "b 7:* r").
func (g *Group) v2List() (string, error) {
	d := g.bpfState()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.detect(g.v2Dir()); err != nil {
		return "", err
	}
	if d.mapf < 0 {
		return "a *:* rwm", nil // no program: everything is allowed
	}
	keys, err := bpfKeys(d.mapf)
	if err != nil {
		return "", sysErr(err, "failed to read the BPF cgroup map")
	}
	var lines []string
	for _, k := range keys {
		v, ok := bpfLookup(d.mapf, k)
		if !ok {
			continue
		}
		kind := "a"
		switch v & 0xffff {
		case bpfDevBlock:
			kind = "b"
		case bpfDevChar:
			kind = "c"
		}
		num := func(n uint32) string {
			if n == devWildcard {
				return "*"
			}
			return fmt.Sprint(n)
		}
		acc := ""
		for _, x := range []struct {
			bit uint32
			c   string
		}{{bpfAccRead, "r"}, {bpfAccWrite, "w"}, {bpfAccMknod, "m"}} {
			if (v>>16)&x.bit != 0 {
				acc += x.c
			}
		}
		lines = append(lines, fmt.Sprintf("%s %s:%s %s", kind, num(uint32(k>>32)), num(uint32(k)), acc))
	}
	sort.Strings(lines)
	out := ""
	for i, l := range lines {
		if i > 0 {
			out += "\n"
		}
		out += l
	}
	return out, nil
}

// closeDevices drops the group's program and map descriptors (the kernel
// keeps both while they are attached).
func (g *Group) closeDevices() {
	g.devMu.Lock()
	d := g.dev
	g.dev = nil
	g.devMu.Unlock()
	if d != nil {
		d.mu.Lock()
		d.close()
		d.mu.Unlock()
	}
}
