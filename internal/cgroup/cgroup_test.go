package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fakeCgroups = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" +
	"cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nblkio\t7\t1\t1\nmemory\t4\t1\t1\n" +
	"devices\t5\t1\t1\nfreezer\t6\t1\t1\nnet_cls\t0\t1\t1\nperf_event\t0\t1\t1\nhugetlb\t0\t1\t1\n"

func write(t *testing.T, p, v string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// fakeV1 lays out this host's shape: one v1 hierarchy per controller and
// an empty v2 mount (hybrid).
func fakeV1(t *testing.T) (string, *Host) {
	root := t.TempDir()
	var mi strings.Builder
	for i, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio"} {
		dir := filepath.Join(root, c)
		os.MkdirAll(dir, 0o755)
		fmt.Fprintf(&mi, "%d 31 0:%d / %s rw,relatime - cgroup cgroup rw,%s\n", 32+i, 29+i, dir, c)
	}
	fmt.Fprintf(&mi, "40 31 0:37 / %s rw,relatime - cgroup cgroup rw,name=systemd\n", filepath.Join(root, "systemd"))
	un := filepath.Join(root, "unified")
	write(t, filepath.Join(un, "cgroup.controllers"), "hugetlb\n")
	fmt.Fprintf(&mi, "41 31 0:38 / %s rw,relatime - cgroup2 cgroup2 rw\n", un)
	write(t, filepath.Join(root, "cpuset", "cpuset.cpus"), "0-3\n")
	write(t, filepath.Join(root, "cpuset", "cpuset.mems"), "0\n")
	write(t, filepath.Join(root, "cpuset", "cpuset.memory_migrate"), "0\n")
	h, err := DetectFrom([]byte(mi.String()), []byte(fakeCgroups))
	if err != nil {
		t.Fatal(err)
	}
	return root, h
}

func TestDetectV1Hybrid(t *testing.T) {
	root, h := fakeV1(t)
	got := h.Controllers()
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio"} {
		if got[c] != "v1" {
			t.Errorf("%s: %q", c, got[c])
		}
	}
	if _, ok := got["net_cls"]; ok || len(got) != 7 {
		t.Errorf("controllers %v", got)
	}
	if h.v2 != filepath.Join(root, "unified") {
		t.Errorf("v2 mount %q", h.v2)
	}
}

func TestNamesAsLibvirt(t *testing.T) {
	_, h := fakeV1(t)
	for _, c := range []struct{ in, want string }{
		{"/machine", "/machine"},
		{"/machine/web", "/machine/web.partition"},
		{"/prod/cpu.x", "/prod.partition/_cpu.x"},
		{"/_a", "/__a.partition"},
		{"/system/x.y", "/system/x.y"},
	} {
		if got := h.PartitionPath(c.in); got != c.want {
			t.Errorf("PartitionPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		id         int
		name, want string
	}{
		{1, "tg", "qemu-1-tg"},
		{7, "a_b..c--d.", "qemu-7-ab.c-d"},
		{3, "-x y", "qemu-3-xy"},
		{2, strings.Repeat("n", 80), "qemu-2-" + strings.Repeat("n", 57)},
	} {
		if got := MachineName("qemu", c.id, c.name); got != c.want {
			t.Errorf("MachineName(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	if got := h.groupName("cpu.x", "qemu"); got != "_cpu.x.libvirt-qemu" {
		t.Errorf("escape: %q", got)
	}
}

func TestMachineV1FakeTree(t *testing.T) {
	root, h := fakeV1(t)
	g, err := h.NewMachine("/machine", "qemu-1-tg", "qemu")
	if err != nil {
		t.Fatal(err)
	}
	if g.Path() != "/machine/qemu-1-tg.libvirt-qemu" {
		t.Fatalf("path %q", g.Path())
	}
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio"} {
		if st, err := os.Stat(filepath.Join(root, c, "machine", "qemu-1-tg.libvirt-qemu")); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", c, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "systemd", "machine")); err == nil {
		t.Error("name=systemd hierarchy touched")
	}
	// New cpusets inherit their parent's CPUs and nodes.
	if v := read(t, filepath.Join(root, "cpuset/machine/qemu-1-tg.libvirt-qemu/cpuset.cpus")); v != "0-3" {
		t.Errorf("cpuset.cpus %q", v)
	}
	if err := g.AddProcess(1234); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "memory/machine/qemu-1-tg.libvirt-qemu/cgroup.procs")); v != "1234" {
		t.Errorf("cgroup.procs %q", v)
	}
	em, err := g.Thread(ThreadEmulator, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := g.Thread(ThreadVCPU, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !vc.Has(CPU) || vc.Has(Memory) || vc.Path() != "/machine/qemu-1-tg.libvirt-qemu/vcpu1" {
		t.Errorf("vcpu group %v %q", vc.ctl, vc.Path())
	}
	if _, err := os.Stat(filepath.Join(root, "memory/machine/qemu-1-tg.libvirt-qemu/vcpu1")); err == nil {
		t.Error("vcpu group in the memory hierarchy")
	}
	if err := vc.AddThread(1240); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "cpu/machine/qemu-1-tg.libvirt-qemu/vcpu1/tasks")); v != "1240" {
		t.Errorf("tasks %q", v)
	}
	write(t, filepath.Join(root, "cpu/machine/qemu-1-tg.libvirt-qemu/vcpu1/cpu.cfs_period_us"), "100000\n")
	write(t, filepath.Join(root, "cpu/machine/qemu-1-tg.libvirt-qemu/vcpu1/cpu.cfs_quota_us"), "-1\n")
	if err := vc.SetupCPUPeriodQuota(50000, 20000); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "cpu/machine/qemu-1-tg.libvirt-qemu/vcpu1/cpu.cfs_quota_us")); v != "20000" {
		t.Errorf("quota %q", v)
	}
	if err := vc.SetCPUQuota(10); err == nil || !strings.Contains(err.Error(), "cfs_quota '10' must be in range (1000, 17592186044415)") {
		t.Errorf("quota range: %v", err)
	}
	if err := g.SetCPUShares(512); err != nil {
		t.Fatal(err)
	}
	if v, _ := g.CPUShares(); v != 512 {
		t.Errorf("shares %d", v)
	}
	if err := g.SetMemoryLimit("hard", 262144); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "memory/machine/qemu-1-tg.libvirt-qemu/memory.limit_in_bytes")); v != "268435456" {
		t.Errorf("limit_in_bytes %q", v)
	}
	g.SetMemoryLimit("soft", Unlimited)
	if v := read(t, filepath.Join(root, "memory/machine/qemu-1-tg.libvirt-qemu/memory.soft_limit_in_bytes")); v != "-1" {
		t.Errorf("soft unlimited written as %q", v)
	}
	write(t, filepath.Join(root, "memory/machine/qemu-1-tg.libvirt-qemu/memory.soft_limit_in_bytes"), "9223372036854771712\n")
	if v, _ := g.MemoryLimit("soft"); v != Unlimited {
		t.Errorf("soft %d", v)
	}
	if _, err := g.MemoryLimit("swap"); !IsNotExist(err) {
		t.Errorf("missing memsw: %v", err)
	}
	// No BFQ/CFQ: libvirt's error.
	if err := g.SetBlkioWeight(300); err == nil || err.Error() != "blkio weight is valid only for bfq or cfq scheduler" || !err.(*Error).Invalid {
		t.Errorf("weight without scheduler: %v", err)
	}
	write(t, filepath.Join(root, "blkio/machine/qemu-1-tg.libvirt-qemu/blkio.bfq.weight"), "100\n")
	if err := g.SetBlkioWeight(300); err != nil {
		t.Fatal(err)
	}
	if v, _ := g.BlkioWeight(); v != 300 {
		t.Errorf("weight %d", v)
	}
	write(t, filepath.Join(root, "cpuacct/machine/qemu-1-tg.libvirt-qemu/cpuacct.stat"), "user 12\nsystem 3\n")
	if u, s, _ := g.CPUAcctStat(); u != 120000000 || s != 30000000 {
		t.Errorf("stat %d %d", u, s)
	}
	// Found again from a process's /proc/PID/cgroup (QEMU sits in emulator).
	f := filepath.Join(t.TempDir(), "cgroup")
	write(t, f, "9:name=systemd:/\n7:blkio:/machine/qemu-1-tg.libvirt-qemu\n4:memory:/machine/qemu-1-tg.libvirt-qemu\n"+
		"3:cpuset:/machine/qemu-1-tg.libvirt-qemu/emulator\n2:cpuacct:/machine/qemu-1-tg.libvirt-qemu/emulator\n1:cpu:/machine/qemu-1-tg.libvirt-qemu/emulator\n"+
		"5:devices:/machine/qemu-1-tg.libvirt-qemu\n6:freezer:/machine/qemu-1-tg.libvirt-qemu\n0::/\n")
	fh, _ := os.Open(f)
	found, err := h.findMachine(fh, "qemu-1-tg", "qemu")
	fh.Close()
	if err != nil || found == nil || found.Path() != g.Path() || len(found.ctl) != 7 {
		t.Fatalf("findMachine: %v %+v", err, found)
	}
	fh, _ = os.Open(f)
	other, _ := h.findMachine(fh, "qemu-2-tg", "qemu")
	fh.Close()
	if other != nil {
		t.Error("another machine's name matched")
	}
	_ = em
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"cpu", "memory", "blkio"} {
		if _, err := os.Stat(filepath.Join(root, c, "machine", "qemu-1-tg.libvirt-qemu")); !os.IsNotExist(err) {
			t.Errorf("%s group left: %v", c, err)
		}
		if _, err := os.Stat(filepath.Join(root, c, "machine")); err != nil {
			t.Errorf("%s partition removed", c)
		}
	}
}

func TestCustomPartitionMustExist(t *testing.T) {
	_, h := fakeV1(t)
	_, err := h.NewMachine("/web", "qemu-1-tg", "qemu")
	if err == nil || !strings.Contains(err.Error(), "Failed to create v1 controller cpu for group: No such file or directory") {
		t.Fatalf("missing partition: %v", err)
	}
	if _, err := h.NewMachine("machine", "qemu-1-tg", "qemu"); err == nil {
		t.Fatal("relative partition accepted")
	}
}

// fakeV2 is a pure cgroup v2 host.
func fakeV2(t *testing.T) (string, *Host) {
	root := t.TempDir()
	write(t, filepath.Join(root, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids\n")
	write(t, filepath.Join(root, "cgroup.subtree_control"), "")
	mi := fmt.Sprintf("30 23 0:26 / %s rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n", root)
	cg := "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\ncpu\t0\t1\t1\ncpuacct\t0\t1\t1\nmemory\t0\t1\t1\nio\t0\t1\t1\n"
	h, err := DetectFrom([]byte(mi), []byte(cg))
	if err != nil {
		t.Fatal(err)
	}
	return root, h
}

func TestMachineV2FakeTree(t *testing.T) {
	root, h := fakeV2(t)
	got := h.Controllers()
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "blkio"} {
		if got[c] != "v2" {
			t.Errorf("%s: %q", c, got[c])
		}
	}
	// The kernel fills cgroup.controllers of a new group from its
	// parent's subtree_control; the fake tree is seeded for it.
	write(t, filepath.Join(root, "machine", "cgroup.controllers"), "cpuset cpu io memory\n")
	write(t, filepath.Join(root, "machine", "qemu-3-v.libvirt-qemu", "cgroup.controllers"), "cpuset cpu io memory\n")
	g, err := h.NewMachine("/machine", "qemu-3-v", "qemu")
	if err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine", "cgroup.subtree_control")); v == "" {
		t.Error("controllers not enabled for the machine group")
	}
	// On v2 one directory holds every controller: early placement is
	// the whole of it.
	if g.HasLate() {
		t.Error("HasLate on v2")
	}
	if err := g.AddProcessEarly(99); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/cgroup.procs")); v != "99" {
		t.Errorf("procs %q", v)
	}
	vc, err := g.Thread(ThreadVCPU, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/vcpu0/cgroup.type")); v != "threaded" {
		t.Errorf("cgroup.type %q", v)
	}
	if err := vc.AddThread(100); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/vcpu0/cgroup.threads")); v != "100" {
		t.Errorf("threads %q", v)
	}
	write(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/vcpu0/cpu.max"), "max 100000\n")
	if err := vc.SetupCPUPeriodQuota(20000, 0); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/vcpu0/cpu.max")); v != "max 20000" {
		t.Errorf("cpu.max %q", v)
	}
	// numatune --live writes each thread group's cpuset.mems.
	write(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/vcpu0/cpuset.mems"), "\n")
	if err := vc.SetCpusetMems("0"); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/vcpu0/cpuset.mems")); v != "0" {
		t.Errorf("cpuset.mems %q", v)
	}
	if err := g.SetCPUShares(2048); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/cpu.weight")); v != "2048" {
		t.Errorf("cpu.weight %q", v)
	}
	if err := g.SetMemoryLimit("soft", 1024); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/memory.high")); v != "1048576" {
		t.Errorf("memory.high %q", v)
	}
	g.SetMemoryLimit("hard", Unlimited)
	if v, _ := g.MemoryLimit("hard"); v != Unlimited {
		t.Errorf("memory.max read %d", v)
	}
	write(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/io.weight"), "default 100\n")
	if err := g.SetBlkioWeight(500); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/io.weight")); v != "default 500" {
		t.Errorf("io.weight %q", v)
	}
	write(t, filepath.Join(root, "machine/qemu-3-v.libvirt-qemu/cpu.stat"), "usage_usec 5\nuser_usec 3\nsystem_usec 2\n")
	if n, _ := g.CPUAcctUsage(); n != 5000 {
		t.Errorf("usage %d", n)
	}
	if _, err := g.CPUAcctPercpu(); err == nil {
		t.Error("per-CPU accounting on v2")
	}
	// QEMU sits in the threaded emulator group: one v2 placement.
	f := filepath.Join(t.TempDir(), "cgroup")
	write(t, f, "0::/machine/qemu-3-v.libvirt-qemu/emulator\n")
	fh, _ := os.Open(f)
	found, err := h.findMachine(fh, "qemu-3-v", "qemu")
	fh.Close()
	if err != nil || found == nil || found.Path() != g.Path() || !found.Has(Memory) || !found.Has(CPU) {
		t.Fatalf("findMachine on v2: %v %+v", err, found)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "machine/qemu-3-v.libvirt-qemu")); !os.IsNotExist(err) {
		t.Error("group left behind")
	}
}

// TestAddProcessSplitV1: early placement covers every v1 hierarchy but
// cpu, cpuacct and cpuset; late placement those three.
func TestAddProcessSplitV1(t *testing.T) {
	root, h := fakeV1(t)
	g, err := h.NewMachine("/machine", "qemu-2-sp", "qemu")
	if err != nil {
		t.Fatal(err)
	}
	procs := func(c string) string {
		data, _ := os.ReadFile(filepath.Join(root, c, "machine", "qemu-2-sp.libvirt-qemu", "cgroup.procs"))
		return strings.TrimSpace(string(data))
	}
	if !g.HasLate() {
		t.Fatal("HasLate false on v1")
	}
	if err := g.AddProcessEarly(77); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"memory", "devices", "freezer", "blkio"} {
		if procs(c) != "77" {
			t.Errorf("early: %s has %q", c, procs(c))
		}
	}
	for _, c := range []string{"cpu", "cpuacct", "cpuset"} {
		if procs(c) != "" {
			t.Errorf("early: %s has %q", c, procs(c))
		}
	}
	if err := g.AddProcessLate(77); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"cpu", "cpuacct", "cpuset"} {
		if procs(c) != "77" {
			t.Errorf("late: %s has %q", c, procs(c))
		}
	}
}

// TestAddToEmulator: a helper goes where QEMU's emulator threads are: the
// emulator sub-group on cpu, cpuacct and cpuset and the machine group on
// the other v1 hierarchies; on v2 the emulator's directory only.
func TestAddToEmulator(t *testing.T) {
	root, h := fakeV1(t)
	g, err := h.NewMachine("/machine", "qemu-4-tp", "qemu")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddToEmulator(5); err == nil {
		t.Error("placed without an emulator group")
	}
	if _, err := g.Thread(ThreadEmulator, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := g.AddToEmulator(55); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join("machine", "qemu-4-tp.libvirt-qemu")
	for _, c := range []string{"cpu", "cpuacct", "cpuset"} {
		if v := read(t, filepath.Join(root, c, m, "emulator", "cgroup.procs")); v != "55" {
			t.Errorf("%s emulator: %q", c, v)
		}
	}
	for _, c := range []string{"memory", "devices", "blkio"} {
		if v := read(t, filepath.Join(root, c, m, "cgroup.procs")); v != "55" {
			t.Errorf("%s machine group: %q", c, v)
		}
	}

	root, h = fakeV2(t)
	write(t, filepath.Join(root, "machine", "cgroup.controllers"), "cpuset cpu io memory\n")
	write(t, filepath.Join(root, "machine", "qemu-4-tp.libvirt-qemu", "cgroup.controllers"), "cpuset cpu io memory\n")
	if g, err = h.NewMachine("/machine", "qemu-4-tp", "qemu"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Thread(ThreadEmulator, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := g.AddToEmulator(56); err != nil {
		t.Fatal(err)
	}
	if v := read(t, filepath.Join(root, m, "emulator", "cgroup.procs")); v != "56" {
		t.Errorf("v2 emulator: %q", v)
	}
	if v, _ := os.ReadFile(filepath.Join(root, m, "cgroup.procs")); len(v) != 0 {
		t.Errorf("v2 machine group holds %q (no internal processes)", v)
	}
}
