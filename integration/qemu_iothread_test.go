package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// qomInt reads a numeric QOM property as text.
func qomInt(t *testing.T, uri, dom, path, prop string) string {
	t.Helper()
	return fmt.Sprint(qomGet(t, uri, dom, path, prop))
}

// waitFor polls fn until it returns "" or the time is up; the last
// complaint fails the test.
func waitFor(t *testing.T, timeout time.Duration, fn func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if last = fn(); last == "" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal(last)
}

// TestQEMURuntimeTuning drives the run-time tuning calls libvirt's QEMU
// driver has beyond schedinfo/memtune/blkiotune (TestQEMUCgroupTuning)
// on a running TCG guest through real virsh: iothreadadd/iothreaddel/
// iothreadset live and in the config (QEMU's objects and properties, the
// new thread's cgroup, bandwidth, memory nodes and affinity, libvirt's
// refusals), domstats --iothread, perf and domstats --perf, numatune --live (cpuset.mems of every
// thread group) and its refusals, setmem --live through the balloon and
// dommemstat; every live value is read back after a daemon restart and
// the persistent ones after the next start.
func TestQEMURuntimeTuning(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpuset/cpuset.mems"); err != nil {
		t.Skip("no cgroup v1 cpuset controller")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	name := fmt.Sprintf("rtt%d", os.Getpid())
	disk := filepath.Join(t.TempDir(), "d.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := `<iothreads>1</iothreads>
  <cputune><iothread_period>100000</iothread_period><iothread_quota>20000</iothread_quota></cputune>
  <numatune><memory mode='restrictive' nodeset='0'/></numatune>`
	sock := filepath.Join(d.dir, name+".console")
	devices := fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' iothread='1'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='virtio'><stats period='1'/></memballoon>
`, sock, disk)
	xml := strings.Replace(testGuestXML(t, name, extra, devices), "<vcpu>1</vcpu>", "<vcpu>2</vcpu>", 1)
	path := filepath.Join(t.TempDir(), "g.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start "+name)
	waitState(t, d, name, "running (booted)", 20*time.Second)
	con := console(t, sock)
	id := strings.TrimSpace(mustVirsh(t, uri, "domid "+name))
	pid := guestPID(t, d, name)
	all := allowedCPUs(t, pid, pid)

	// The <numatune> node set reaches every thread's cpuset at start.
	for _, sub := range []string{"emulator", "vcpu0", "vcpu1", "iothread1"} {
		if v := readCg(t, filepath.Join(cgroupDir("cpuset", id, name), sub, "cpuset.mems")); v != "0" {
			t.Errorf("%s cpuset.mems %q", sub, v)
		}
	}

	// iothreadadd --live: a QOM object whose thread has its group with
	// the guest's iothread bandwidth, memory nodes and all host CPUs.
	mustVirsh(t, uri, "iothreadadd "+name+" 3 --live")
	tid := qmpThread(t, uri, name, "query-iothreads", "id", "iothread3")
	it3 := func(c string) string { return filepath.Join(cgroupDir(c, id, name), "iothread3") }
	if tasks := readCg(t, filepath.Join(it3("cpu"), "tasks")); tasks != strconv.Itoa(tid) {
		t.Errorf("iothread3 group holds %q, want thread %d", tasks, tid)
	}
	if v := readCg(t, filepath.Join(it3("cpu"), "cpu.cfs_quota_us")); v != "20000" {
		t.Errorf("iothread3 quota %q", v)
	}
	if v := readCg(t, filepath.Join(it3("cpuset"), "cpuset.mems")); v != "0" {
		t.Errorf("iothread3 cpuset.mems %q", v)
	}
	if got := allowedCPUs(t, pid, tid); got != all {
		t.Errorf("new iothread allowed on %s, want %s", got, all)
	}
	if out := mustVirsh(t, uri, "iothreadinfo "+name); !regexp.MustCompile(`(?m)^ 3\s+` + regexp.QuoteMeta(all) + `$`).MatchString(out) {
		t.Errorf("iothreadinfo after add:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<iothreads>2</iothreads>\n  <iothreadids>\n    <iothread id='1'/>\n    <iothread id='3'/>\n  </iothreadids>") {
		t.Errorf("live XML after iothreadadd:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dumpxml --inactive "+name); strings.Contains(out, "<iothread id='3'/>") {
		t.Errorf("a live iothread reached the config:\n%s", out)
	}
	if all != "0" {
		mustVirsh(t, uri, "iothreadpin "+name+" 3 0")
		if got := allowedCPUs(t, pid, tid); got != "0" {
			t.Errorf("pinned iothread 3 allowed on %s", got)
		}
		if v := readCg(t, filepath.Join(it3("cpuset"), "cpuset.cpus")); v != "0" {
			t.Errorf("iothread3 cpuset.cpus %q", v)
		}
	}

	// iothreadset: polling and the thread pool through qom-set.
	mustVirsh(t, uri, "iothreadset "+name+" 3 --poll-max-ns 1000 --poll-grow 2 --poll-shrink 3")
	if v := qomInt(t, uri, name, "/objects/iothread3", "poll-max-ns"); v != "1000" {
		t.Errorf("poll-max-ns in QEMU %s", v)
	}
	// domstats answers without what a slow monitor did not give in
	// time (stats_sample.go): asked again until QEMU did.
	waitFor(t, 30*time.Second, func() string {
		if out := mustVirsh(t, uri, "domstats --iothread "+name); !strings.Contains(out, "iothread.count=2") ||
			!strings.Contains(out, "iothread.3.poll-max-ns=1000\n  iothread.3.poll-grow=2\n  iothread.3.poll-shrink=3") {
			return "domstats --iothread:\n" + out
		}
		return ""
	})
	mustVirsh(t, uri, "iothreadset "+name+" 3 --thread-pool-min 2 --thread-pool-max 8")
	if v := qomInt(t, uri, name, "/objects/iothread3", "thread-pool-min"); v != "2" {
		t.Errorf("thread-pool-min in QEMU %s", v)
	}
	if v := qomInt(t, uri, name, "/objects/iothread3", "thread-pool-max"); v != "8" {
		t.Errorf("thread-pool-max in QEMU %s", v)
	}
	if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<iothread id='3' thread_pool_min='2' thread_pool_max='8'/>") {
		t.Errorf("live XML after iothreadset:\n%s", out)
	}
	for _, c := range []struct{ cmd, want string }{
		{"iothreadset %s 1 --thread-pool-min 4", "error: Requested operation is not valid: thread_pool_min (4) can't be greater than thread_pool_max (-1)"},
		{"iothreadset %s 3 --thread-pool-max -1", "error: Requested operation is not valid: thread_pool_max (-1) must be equal to or greater than 0 for live change"},
		{"iothreadset %s 3 --thread-pool-max 0", "error: unsupported configuration: thread_pool_max (0) must be a positive number or -1"},
		{"iothreadset %s 1 --poll-max-ns 10 --config", "error: Operation not supported: configuring persistent polling values is not supported"},
		{"iothreadset %s 3 --poll-max-ns 10 --config", "error: invalid argument: cannot find IOThread '3' in iothreadids"},
		{"iothreaddel %s 1", "error: invalid argument: cannot remove IOThread 1 since it is being used by disk 'vda'"},
		{"iothreadadd %s 3", "error: invalid argument: an IOThread is already using iothread_id '3'"},
		{"iothreaddel %s 9", "error: invalid argument: cannot find IOThread '9' in iothreadids list"},
		{"numatune %s --nodeset 1 --live", "error: unsupported configuration: NUMA node 1 is unavailable"},
		{"numatune %s --mode strict --live", "error: Requested operation is not valid: can't change numatune mode for running domain"},
	} {
		if _, e, rc := virsh(t, uri, fmt.Sprintf(c.cmd, name)); rc == 0 || !strings.Contains(e, c.want) {
			t.Errorf("virsh %s: rc=%d %s", fmt.Sprintf(c.cmd, name), rc, e)
		}
	}
	mustVirsh(t, uri, "iothreadadd "+name+" 4 --live --config")
	mustVirsh(t, uri, "iothreadset "+name+" 4 --thread-pool-max 16 --config")
	if out := mustVirsh(t, uri, "dumpxml --inactive "+name); !strings.Contains(out, "<iothreadids>\n    <iothread id='1'/>\n    <iothread id='4' thread_pool_max='16'/>\n  </iothreadids>") {
		t.Errorf("config after iothreadadd/iothreadset --config:\n%s", out)
	}

	// numatune --live moves a restrictive guest's threads' memory nodes
	// (the host's only node here: the value is rewritten all the same).
	mustVirsh(t, uri, "numatune "+name+" --nodeset 0 --live")
	for _, sub := range []string{"vcpu0", "emulator", "iothread3", "iothread4"} {
		if v := readCg(t, filepath.Join(cgroupDir("cpuset", id, name), sub, "cpuset.mems")); v != "0" {
			t.Errorf("%s cpuset.mems after numatune --live: %q", sub, v)
		}
	}
	if out := mustVirsh(t, uri, "numatune "+name); !strings.Contains(out, "numa_mode      : restrictive\nnuma_nodeset   : 0") {
		t.Errorf("numatune after --live:\n%s", out)
	}

	// perf: software counters on QEMU's process; a hardware one needs a
	// PMU this host may lack (libvirt's error then).
	mustVirsh(t, uri, "perf "+name+" --enable task_clock,page_faults --live")
	if out := mustVirsh(t, uri, "domstats --perf "+name); !strings.Contains(out, "perf.task_clock=") || !strings.Contains(out, "perf.page_faults=") {
		t.Errorf("domstats --perf:\n%s", out)
	}
	if _, e, rc := virsh(t, uri, "perf "+name+" --enable cpu_cycles"); rc != 0 && !strings.Contains(e, "error: unable to open host cpu perf event for cpu_cycles: ") {
		t.Errorf("perf --enable cpu_cycles: %s", e)
	}
	mustVirsh(t, uri, "perf "+name+" --disable page_faults")
	if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<event name='task_clock' enabled='yes'/>\n    <event name='page_faults' enabled='no'/>") {
		t.Errorf("live <perf>:\n%s", out)
	}

	// setmem --live sets the balloon, which the guest's driver follows.
	if _, err := con.Expect(testguest.ReadyMarker, 2*bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v", err)
	}
	mustVirsh(t, uri, "setmem "+name+" 100M --live")
	waitFor(t, time.Minute, func() string {
		out := mustVirsh(t, uri, "dommemstat "+name)
		if !strings.Contains(out, "actual 102400") || !strings.Contains(out, "usable ") {
			return "dommemstat after setmem:\n" + out
		}
		return ""
	})
	// The live XML follows QEMU's BALLOON_CHANGE events, which QEMU
	// rate-limits to one a second: the last can come after query-balloon
	// already reports the target.
	waitFor(t, time.Minute, func() string {
		if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<currentMemory unit='KiB'>102400</currentMemory>") {
			return "live XML after setmem:\n" + out
		}
		return ""
	})

	// Everything set live is still there for a restarted daemon.
	d.crashRestart()
	waitState(t, d, name, "running (booted)", 20*time.Second)
	out := mustVirsh(t, uri, "dumpxml "+name)
	for _, want := range []string{"<iothread id='3' thread_pool_min='2' thread_pool_max='8'/>", "<iothread id='4'/>",
		"<currentMemory unit='KiB'>102400</currentMemory>", "<memory mode='restrictive' nodeset='0'/>"} {
		if !strings.Contains(out, want) {
			t.Errorf("live XML after restart lacks %s:\n%s", want, out)
		}
	}
	waitFor(t, 30*time.Second, func() string {
		if out := mustVirsh(t, uri, "domstats --iothread "+name); !strings.Contains(out, "iothread.count=3") || !strings.Contains(out, "iothread.3.poll-max-ns=1000") {
			return "domstats --iothread after restart:\n" + out
		}
		return ""
	})
	waitFor(t, 30*time.Second, func() string {
		if out := mustVirsh(t, uri, "dommemstat "+name); !strings.Contains(out, "actual 102400") {
			return "dommemstat after restart:\n" + out
		}
		return ""
	})
	if out := mustVirsh(t, uri, "domstats --perf "+name); !strings.Contains(out, "perf.task_clock=") || strings.Contains(out, "perf.page_faults") {
		t.Errorf("domstats --perf after restart:\n%s", out)
	}
	// A restarted daemon still runs the changes through the guest's groups.
	mustVirsh(t, uri, "iothreaddel "+name+" 3 --live")
	if _, err := os.Stat(it3("cpu")); !os.IsNotExist(err) {
		t.Errorf("iothread3 group after iothreaddel: %v", err)
	}
	if out := mustVirsh(t, uri, "iothreadinfo "+name); regexp.MustCompile(`(?m)^ 3\s`).MatchString(out) {
		t.Errorf("iothreadinfo after del:\n%s", out)
	}
	mustVirsh(t, uri, "destroy "+name)

	// The next start has the persistent values.
	mustVirsh(t, uri, "start "+name)
	waitState(t, d, name, "running (booted)", 20*time.Second)
	qmpThread(t, uri, name, "query-iothreads", "id", "iothread4")
	if v := qomInt(t, uri, name, "/objects/iothread4", "thread-pool-max"); v != "16" {
		t.Errorf("iothread4 thread-pool-max after start %s", v)
	}
	mustVirsh(t, uri, "destroy "+name)
	mustVirsh(t, uri, "undefine "+name)
}

// TestQEMUCgroupCustomPartition: a guest whose <resource><partition>
// names an existing partition below /machine runs in
// machine/NAME.partition/qemu-ID-NAME.libvirt-qemu on every v1 controller
// (libvirt's escaping), its live XML names the partition, and tuning
// reaches that group.
func TestQEMUCgroupCustomPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpuset/cpuset.mems"); err != nil {
		t.Skip("no cgroup v1 cpuset controller")
	}
	part := fmt.Sprintf("tnt%d", os.Getpid())
	ctls := []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory"}
	for _, c := range ctls {
		dir := filepath.Join("/sys/fs/cgroup", c, "machine", part+".partition")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { os.Remove(dir) })
	}
	// A new cpuset group starts empty; the administrator who made the
	// partition gives it its CPUs and nodes.
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuset/machine", f))
		os.WriteFile(filepath.Join("/sys/fs/cgroup/cpuset/machine", part+".partition", f), b, 0o644)
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	name := fmt.Sprintf("cgcp%d", os.Getpid())
	xml := testGuestXML(t, name, "<resource><partition>/machine/"+part+"</partition></resource>", "")
	path := filepath.Join(t.TempDir(), "g.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start "+name)
	waitState(t, d, name, "running (booted)", 20*time.Second)
	id := strings.TrimSpace(mustVirsh(t, uri, "domid "+name))
	group := "/machine/" + part + ".partition/qemu-" + id + "-" + name + ".libvirt-qemu"
	self := readCg(t, fmt.Sprintf("/proc/%d/cgroup", guestPID(t, d, name)))
	for _, want := range []string{":cpu:" + group + "/emulator\n", ":cpuset:" + group + "/emulator\n", ":memory:" + group + "\n", ":blkio:" + group + "\n"} {
		if !strings.Contains(self+"\n", want) {
			t.Errorf("QEMU not in %s:\n%s", want, self)
		}
	}
	if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<resource>\n    <partition>/machine/"+part+"</partition>\n  </resource>") {
		t.Errorf("live XML:\n%s", out)
	}
	mustVirsh(t, uri, "schedinfo "+name+" --live --set cpu_shares=300")
	if v := readCg(t, filepath.Join("/sys/fs/cgroup/cpu", group, "cpu.shares")); v != "300" {
		t.Errorf("cpu.shares %q", v)
	}
	mustVirsh(t, uri, "destroy "+name)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/cpu", group)); !os.IsNotExist(err) {
		t.Errorf("group left after destroy: %v", err)
	}
	mustVirsh(t, uri, "undefine "+name)
}

// TestTestDriverNumaPerfMatchesLibvirtd: numatune and perf setters on
// test:///default print and store what libvirtd 9.0's test driver does
// (each command string is one connection, so one session of state).
func TestTestDriverNumaPerfMatchesLibvirtd(t *testing.T) {
	if _, err := os.Stat(systemLibvirtdSock); err != nil {
		t.Skip("no libvirtd")
	}
	d := startDaemon(t)
	ours := d.URI("test")
	theirs := "test+unix:///default?socket=" + systemLibvirtdSock
	bridge := regexp.MustCompile(` bridge='[^']*'`)
	for _, cmd := range []string{
		"numatune test --nodeset 0 --live; numatune test; dumpxml test",
		"numatune test --mode interleave --live",
		"numatune test --mode preferred --nodeset 1-2 --config; numatune test --config; dumpxml --inactive test",
		"numatune test --nodeset x", "numatune test --nodeset ^0", "numatune test --mode 9",
		"numatune test --nodeset 0; numatune test --mode interleave",
		"perf test --enable cpu_cycles,cmt; perf test --disable cmt; dumpxml test",
		"perf test --enable cpu_cycles --config; perf test --config",
		"perf test --enable nosuch",
	} {
		o1, e1, rc1 := virsh(t, ours, cmd)
		o2, e2, rc2 := virsh(t, theirs, cmd)
		// govirt's test driver names the default network's bridge
		// in the live interface (as the golden tests normalise).
		o1 = bridge.ReplaceAllString(o1, "")
		if o1 != o2 || e1 != e2 || rc1 != rc2 {
			t.Errorf("virsh %s:\ngovirtd (rc %d):\n%s%s\nlibvirtd (rc %d):\n%s%s", cmd, rc1, o1, e1, rc2, o2, e2)
		}
	}
}
