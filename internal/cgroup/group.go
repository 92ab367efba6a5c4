package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Error is a failure with libvirt's message; Invalid marks the ones
// libvirt reports as VIR_ERR_OPERATION_INVALID (a setting the host's
// cgroups cannot take) rather than a system error.
type Error struct {
	Invalid     bool
	Unsupported bool // VIR_ERR_OPERATION_UNSUPPORTED: the backend lacks it
	Msg         string
	Err         error // the system error, if any
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

func sysErr(err error, format string, a ...any) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	msg := fmt.Sprintf(format, a...)
	if err != nil {
		msg += ": " + sysMessage(err)
	}
	return &Error{Msg: msg, Err: err}
}

// sysMessage is strerror's text, as libvirt appends it.
func sysMessage(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		s := en.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

func invalid(format string, a ...any) error {
	return &Error{Invalid: true, Msg: fmt.Sprintf(format, a...)}
}

// Group is one cgroup: the same relative path on every hierarchy that
// holds one of its controllers.
type Group struct {
	h   *Host
	rel string
	ctl []string // the controllers the group has
	// dev is the v2 device program and map (devices_v2.go).
	devMu sync.Mutex
	dev   *devBPF
}

// Path is the group's path relative to the hierarchies' roots.
func (g *Group) Path() string { return g.rel }

// Has says whether the group has controller c.
func (g *Group) Has(c string) bool {
	for _, x := range g.ctl {
		if x == c {
			return true
		}
	}
	return false
}

// Dir is controller c's directory of the group ("" without it).
func (g *Group) Dir(c string) string {
	if !g.Has(c) {
		return ""
	}
	return g.h.dirOf(c, g.rel)
}

// needsEscape is virCgroupPartitionNeedsEscaping: names that could be
// taken for a cgroup file get a leading '_'.
func (h *Host) needsEscape(name string) bool {
	if strings.HasPrefix(name, "cgroup.") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
		return true
	}
	for _, s := range h.subsys {
		if strings.HasPrefix(name, s+".") {
			return true
		}
	}
	return false
}

func (h *Host) escape(name string) string {
	if h.needsEscape(name) {
		return "_" + name
	}
	return name
}

// PartitionPath is virCgroupSetPartitionSuffix: every component but the
// top-level machine, system and user gets ".partition" unless it has a
// suffix, and each is escaped.
func (h *Host) PartitionPath(partition string) string {
	toks := strings.Split(partition, "/")
	for i, t := range toks {
		if i == 1 && (t == "machine" || t == "system" || t == "user") {
			continue
		}
		if t != "" && !strings.Contains(t, ".") {
			t += ".partition"
		}
		if t != "" {
			t = h.escape(t)
		}
		toks[i] = t
	}
	return strings.Join(toks, "/")
}

// MachineName is virDomainDriverGenerateMachineName for a privileged
// driver: "qemu-ID-NAME", NAME reduced to hostname characters (runs of '.'
// and '-' collapsed, none leading or trailing) and the whole cut at 64.
func MachineName(driver string, id int, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s-%d-", driver, id)
	skip := true
	for i := 0; i < len(name); i++ {
		if b.Len() >= 64 {
			break
		}
		c := name[i]
		if c == '.' || c == '-' {
			if !skip {
				b.WriteByte(c)
				skip = true
			}
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			continue
		}
		b.WriteByte(c)
		skip = false
	}
	return strings.TrimRight(b.String(), "-.")
}

// groupName is the name of a machine's group in its partition.
func (h *Host) groupName(machine, driver string) string {
	return h.escape(machine + ".libvirt-" + driver)
}

// controllers lists every controller the host has, v1 ones first.
func (h *Host) controllers() []string {
	var out []string
	for _, c := range v1Controllers {
		if h.v1[c] != "" || h.v2ctl[c] {
			out = append(out, c)
		}
	}
	return out
}

const (
	flagMemHierarchy = 1 << iota
	flagThread
)

// make is virCgroupMakeGroup for a group at rel whose parent is at
// parentRel: each controller's directory is created when create is set
// (an existing one is used as is), a new v1 cpuset inherits its parent's
// CPUs and memory nodes, and a new v2 group gets its parent's controllers
// enabled (threaded groups: cpu and cpuset only).
func (h *Host) make(parentRel, rel string, ctls []string, create bool, flags int) (*Group, error) {
	g := &Group{h: h, rel: rel}
	v2done := false
	for _, c := range ctls {
		if h.isV2(c) {
			g.ctl = append(g.ctl, c)
			if v2done {
				continue
			}
			v2done = true
			dir := filepath.Join(h.v2, rel)
			if _, err := os.Stat(dir); err != nil {
				if !create {
					return nil, sysErr(err, "Failed to create v2 cgroup '%s'", dir)
				}
				if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
					return nil, sysErr(err, "Failed to create v2 cgroup '%s'", dir)
				}
			}
			continue
		}
		dir := filepath.Join(h.v1[c], rel)
		if _, err := os.Stat(dir); err == nil {
			g.ctl = append(g.ctl, c)
			continue
		}
		if !create {
			return nil, sysErr(syscall.ENOENT, "Failed to create v1 controller %s for group", c)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				g.ctl = append(g.ctl, c)
				continue
			}
			// As libvirt: a kernel without nested blkio groups
			// leaves blkio out instead of failing.
			if c == Blkio {
				continue
			}
			return nil, sysErr(err, "Failed to create v1 controller %s for group", c)
		}
		g.ctl = append(g.ctl, c)
		if c == CPUSet {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems", "cpuset.memory_migrate"} {
				v, err := readTrim(filepath.Join(h.v1[c], parentRel, f))
				if err != nil {
					return nil, err
				}
				if err := writeValue(filepath.Join(dir, f), v); err != nil {
					return nil, err
				}
			}
		}
		if c == Memory && flags&flagMemHierarchy != 0 {
			p := filepath.Join(dir, "memory.use_hierarchy")
			if v, err := readTrim(p); err == nil && v != "1" {
				if err := writeValue(p, "1"); err != nil {
					return nil, err
				}
			}
		}
	}
	if v2done && create {
		if err := h.enableV2(parentRel, rel, g, flags); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// enableV2 enables the group's v2 controllers in its parent's
// cgroup.subtree_control (virCgroupV2MakeGroup).
func (h *Host) enableV2(parentRel, rel string, g *Group, flags int) error {
	dir := filepath.Join(h.v2, rel)
	parentCtl := filepath.Join(h.v2, parentRel, "cgroup.subtree_control")
	if flags&flagThread != 0 {
		if err := writeValue(filepath.Join(dir, "cgroup.type"), "threaded"); err != nil {
			return err
		}
	}
	have, _ := os.ReadFile(filepath.Join(h.v2, parentRel, "cgroup.controllers"))
	avail := map[string]bool{}
	for _, c := range strings.Fields(string(have)) {
		avail[c] = true
	}
	var kept []string
	for _, c := range g.ctl {
		name, ok := v2Names[c]
		if !h.isV2(c) || !ok {
			kept = append(kept, c)
			continue
		}
		if flags&flagThread != 0 && c != CPU && c != CPUSet {
			continue
		}
		if !avail[name] {
			continue
		}
		if err := writeValue(parentCtl, "+"+name); err != nil {
			if flags&flagThread != 0 {
				return sysErr(err, "Failed to enable controller '+%s' for '%s'", name, parentCtl)
			}
			continue // as libvirt: skipped when it cannot be enabled
		}
		kept = append(kept, c)
	}
	// cpuacct rides on cpu.
	if g.Has(CPUAcct) && h.isV2(CPUAcct) {
		hasCPU := false
		for _, c := range kept {
			hasCPU = hasCPU || c == CPU
		}
		if !hasCPU {
			out := kept[:0]
			for _, c := range kept {
				if c != CPUAcct {
					out = append(out, c)
				}
			}
			kept = out
		}
	}
	g.ctl = kept
	return nil
}

// NewMachine creates (or reuses) the group of a machine below partition,
// virCgroupNewMachineManual: the partition is created only when it is the
// default "/machine", any other must exist already.
func (h *Host) NewMachine(partition, machine, driver string) (*Group, error) {
	if !strings.HasPrefix(partition, "/") {
		return nil, &Error{Msg: fmt.Sprintf("Partition path '%s' must start with '/'", partition)}
	}
	ppath := h.PartitionPath(partition)
	ctls := h.controllers()
	if ppath != "/" {
		parent := path.Dir(ppath)
		if _, err := h.make(parent, ppath, ctls, partition == "/machine", 0); err != nil {
			return nil, err
		}
	}
	return h.make(ppath, path.Join(ppath, h.groupName(machine, driver)), ctls, true, flagMemHierarchy)
}

// Thread kinds of virCgroupNewThread.
const (
	ThreadEmulator = "emulator"
	ThreadVCPU     = "vcpu"
	ThreadIOThread = "iothread"
)

// Thread is the sub-group of one of QEMU's threads ("emulator", "vcpuN",
// "iothreadN"), created when create is set.
func (g *Group) Thread(kind string, id int, create bool) (*Group, error) {
	name := kind
	if kind != ThreadEmulator {
		name += strconv.Itoa(id)
	}
	var ctls []string
	for _, c := range threadControllers {
		if g.Has(c) {
			ctls = append(ctls, c)
		}
	}
	return g.h.make(g.rel, path.Join(g.rel, name), ctls, create, flagThread)
}

// dirs are the group's distinct directories (v2 controllers share one),
// each with whether it is on v2.
func (g *Group) dirs() (out []string, v2 []bool) {
	seen := map[string]bool{}
	for _, c := range g.ctl {
		d := g.h.dirOf(c, g.rel)
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
		v2 = append(v2, g.h.isV2(c))
	}
	return out, v2
}

// AddProcess moves every thread of process pid into the group.
func (g *Group) AddProcess(pid int) error {
	dirs, _ := g.dirs()
	for _, d := range dirs {
		if err := writeValue(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// AddToEmulator moves every thread of process pid (a helper of the guest,
// such as swtpm) where QEMU's emulator threads are, as libvirt's
// virCgroupAddProcess on the emulator group of qemuSetupCgroupForExtDevices:
// the emulator sub-group on the hierarchies it has (cpu, cpuacct, cpuset,
// and the whole v2 tree) and the machine group on the other v1 ones.
func (g *Group) AddToEmulator(pid int) error {
	eg, err := g.Thread(ThreadEmulator, 0, false)
	if err != nil {
		return err
	}
	// On v2 every controller shares the emulator's one directory.
	v2dir := ""
	for _, c := range eg.ctl {
		if g.h.isV2(c) {
			v2dir = eg.Dir(c)
		}
	}
	seen := map[string]bool{}
	for _, c := range g.ctl {
		d := eg.Dir(c)
		if d == "" && g.h.isV2(c) {
			d = v2dir
		}
		if d == "" {
			d = g.h.dirOf(c, g.rel)
		}
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		if err := writeValue(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// AddProcessEarly moves every thread of process pid into the group on
// each hierarchy but the v1 ones whose only controllers of the group are
// thread controllers (cpu, cpuacct, cpuset); AddProcessLate does those.
// On cgroup v1 each hierarchy places a process on its own, so a QEMU
// can be confined by devices, memory, blkio and pids from its spawn
// while it initialises with the CPU share of the daemon's group, and
// enter the guest's CPU groups before its vCPUs run: on a v1 host the
// machine partition is one scheduling entity beside every task of the
// root group, and a QEMU starting inside it on a loaded host gets a
// fraction of the CPU.
func (g *Group) AddProcessEarly(pid int) error { return g.addProcessSplit(pid, false) }

// AddProcessLate is the rest of AddProcessEarly's placement.
func (g *Group) AddProcessLate(pid int) error { return g.addProcessSplit(pid, true) }

func (g *Group) addProcessSplit(pid int, late bool) error {
	byDir := map[string]bool{} // dir -> holds only thread controllers (v1)
	var order []string
	for _, c := range g.ctl {
		d := g.h.dirOf(c, g.rel)
		if d == "" {
			continue
		}
		thread := !g.h.isV2(c) && isThreadController(c)
		if prev, ok := byDir[d]; ok {
			byDir[d] = prev && thread
			continue
		}
		byDir[d] = thread
		order = append(order, d)
	}
	for _, d := range order {
		if byDir[d] != late {
			continue
		}
		if err := writeValue(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

func isThreadController(c string) bool {
	for _, t := range threadControllers {
		if c == t {
			return true
		}
	}
	return false
}

// HasLate says whether AddProcessLate has anything to do.
func (g *Group) HasLate() bool {
	for _, c := range g.ctl {
		if g.h.dirOf(c, g.rel) != "" && !g.h.isV2(c) && isThreadController(c) {
			return true
		}
	}
	return false
}

// SplitThreads says whether the group has thread controllers and all of
// them are on cgroup v1, where each thread of a process is placed on its
// own (v2 places the threads of a process below its own group only).
func (g *Group) SplitThreads() bool {
	any := false
	for _, c := range g.ctl {
		if !isThreadController(c) || g.h.dirOf(c, g.rel) == "" {
			continue
		}
		if g.h.isV2(c) {
			return false
		}
		any = true
	}
	return any
}

// AddThread moves the one thread tid into the group.
func (g *Group) AddThread(tid int) error {
	dirs, v2 := g.dirs()
	for i, d := range dirs {
		f := "tasks"
		if v2[i] {
			f = "cgroup.threads"
		}
		if err := writeValue(filepath.Join(d, f), strconv.Itoa(tid)); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes the group and its sub-groups on every hierarchy. A group
// still holding a task is retried for a moment: an exiting QEMU leaves
// its cgroups only once the kernel has finished with it.
func (g *Group) Remove() error {
	if g == nil || g.rel == "/" || g.rel == "" {
		return nil
	}
	g.closeDevices()
	dirs, _ := g.dirs()
	var first error
	for _, d := range dirs {
		if err := removeTree(d); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func removeTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	var rerr error
	for i := 0; i < 50; i++ {
		rerr = syscall.Rmdir(dir)
		if rerr == nil || rerr == syscall.ENOENT {
			return nil
		}
		// Busy with a live task (someone else's process joined the
		// group): give up at once; busy without one is the kernel
		// still finishing an exited task: wait a little.
		if rerr != syscall.EBUSY || hasTasks(dir) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rerr == syscall.ENOTEMPTY {
		// A fake tree (tests) holds regular files; a real cgroup
		// directory removes with its files.
		if err := removeFiles(dir); err == nil {
			if syscall.Rmdir(dir) == nil {
				return nil
			}
		}
	}
	return sysErr(rerr, "Unable to remove %s", dir)
}

func hasTasks(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	return err == nil && len(strings.TrimSpace(string(data))) > 0
}

func removeFiles(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// Exists says whether every directory of the group is there.
func (g *Group) Exists() bool {
	dirs, _ := g.dirs()
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			return false
		}
	}
	return len(dirs) > 0
}

// FindMachine is virCgroupNewDetectMachine: the group process pid is in,
// accepted only when its name is the one this machine's group would have
// (the cpu controllers' "/emulator" sub-group stands for its parent).
// nil without error when pid is not in such a group.
func (h *Host) FindMachine(pid int, machine, driver string) (*Group, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return h.findMachine(f, machine, driver)
}

func (h *Host) findMachine(f *os.File, machine, driver string) (*Group, error) {
	want := h.groupName(machine, driver)
	place := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			for c := range h.v2ctl {
				place[c] = parts[2]
			}
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if h.v1[c] != "" {
				place[c] = parts[2]
			}
		}
	}
	var rel string
	var ctls []string
	for _, c := range h.controllers() {
		p, ok := place[c]
		if !ok {
			continue
		}
		if path.Base(p) == ThreadEmulator || strings.HasPrefix(path.Base(p), ThreadVCPU) || strings.HasPrefix(path.Base(p), ThreadIOThread) {
			// v1 has the thread groups on the cpu controllers only;
			// v2 has one placement, the thread's, for all of them.
			if c == CPU || c == CPUAcct || c == CPUSet || h.isV2(c) {
				p = path.Dir(p)
			}
		}
		if path.Base(p) != want {
			return nil, nil
		}
		if rel == "" {
			rel = p
		}
		ctls = append(ctls, c)
	}
	if rel == "" {
		return nil, nil
	}
	return &Group{h: h, rel: rel, ctl: ctls}, nil
}

// Open returns the group at rel with the controllers whose directory
// exists there (a group recorded earlier, read again).
func (h *Host) Open(rel string) *Group {
	g := &Group{h: h, rel: rel}
	for _, c := range h.controllers() {
		if _, err := os.Stat(h.dirOf(c, rel)); err == nil {
			g.ctl = append(g.ctl, c)
		}
	}
	return g
}

func readTrim(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", sysErr(err, "Unable to read from '%s'", p)
	}
	return strings.TrimRight(string(data), "\n"), nil
}

// writeValue is virCgroupSetValueRaw, with its two messages.
func writeValue(p, v string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		_, err = f.Write([]byte(v))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EINVAL) {
		return sysErr(err, "Invalid value '%s' for '%s'", v, filepath.Base(p))
	}
	return sysErr(err, "Unable to write to '%s'", p)
}
