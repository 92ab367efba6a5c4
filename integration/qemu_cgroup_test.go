package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// cgroupDir is the v1 directory of a guest's group for controller c.
func cgroupDir(c, id, name string) string {
	return filepath.Join("/sys/fs/cgroup", c, "machine", "qemu-"+id+"-"+name+".libvirt-qemu")
}

func readCg(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return strings.TrimSpace(string(data))
}

// TestQEMUCgroupTuning runs a TCG guest defined with <cputune><shares>,
// bandwidth, <memtune> and iothreads on this host's cgroup v1 controllers:
// the group and its sub-groups exist with the values, virsh schedinfo,
// memtune, blkiotune and cpu-stats read and set them live and in the
// config, the values reach the cgroup files, the group survives a daemon
// restart and is gone after destroy.
func TestQEMUCgroupTuning(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err != nil {
		t.Skip("no cgroup v1 cpu controller")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	// Unique: other daemons on this host use the same /machine partition.
	name := fmt.Sprintf("cgt%d", os.Getpid())
	extra := `<iothreads>1</iothreads>
  <cputune><shares>512</shares><period>100000</period><quota>50000</quota><emulator_period>20000</emulator_period><emulator_quota>10000</emulator_quota></cputune>
  <memtune><hard_limit unit='MiB'>1024</hard_limit></memtune>`
	xml := strings.Replace(testGuestXML(t, name, extra, ""), "<vcpu>1</vcpu>", "<vcpu>2</vcpu>", 1)
	path := filepath.Join(t.TempDir(), "g.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start "+name)
	waitState(t, d, name, "running (booted)", 20*time.Second)
	id := strings.TrimSpace(mustVirsh(t, uri, "domid "+name))
	cpu := cgroupDir("cpu", id, name)
	if v := readCg(t, filepath.Join(cpu, "cpu.shares")); v != "512" {
		t.Errorf("cpu.shares %q", v)
	}
	for _, sub := range []string{"emulator", "vcpu0", "vcpu1", "iothread1"} {
		if tasks := readCg(t, filepath.Join(cpu, sub, "tasks")); tasks == "" {
			t.Errorf("%s has no thread", sub)
		}
	}
	if v := readCg(t, filepath.Join(cpu, "vcpu1", "cpu.cfs_quota_us")); v != "50000" {
		t.Errorf("vcpu1 quota %q", v)
	}
	if v := readCg(t, filepath.Join(cpu, "emulator", "cpu.cfs_period_us")); v != "20000" {
		t.Errorf("emulator period %q", v)
	}
	if v := readCg(t, filepath.Join(cgroupDir("memory", id, name), "memory.limit_in_bytes")); v != "1073741824" {
		t.Errorf("memory.limit_in_bytes %q", v)
	}
	// QEMU's main thread is in the emulator group on every cpu hierarchy.
	pid := guestPID(t, d, name)
	self := readCg(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	if !strings.Contains(self, ":cpu:/machine/qemu-"+id+"-"+name+".libvirt-qemu/emulator") ||
		!strings.Contains(self, ":memory:/machine/qemu-"+id+"-"+name+".libvirt-qemu\n") {
		t.Errorf("QEMU placed in:\n%s", self)
	}
	if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<partition>/machine</partition>") {
		t.Errorf("live XML without the partition:\n%s", out)
	}

	out := mustVirsh(t, uri, "schedinfo "+name)
	for _, want := range []string{"Scheduler      : posix", "cpu_shares     : 512", "vcpu_period    : 100000",
		"vcpu_quota     : 50000", "emulator_period: 20000", "emulator_quota : 10000", "global_quota   : -1"} {
		if !strings.Contains(out, want) {
			t.Errorf("schedinfo lacks %q:\n%s", want, out)
		}
	}
	// The change is announced with the tunable event.
	var evOut strings.Builder
	ev := exec.Command("virsh", "-c", uri, "event", "--domain", name, "--event", "tunable", "--timeout", "20")
	ev.Stdout = &evOut
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // registered
	mustVirsh(t, uri, "schedinfo "+name+" --live --set vcpu_quota=30000")
	ev.Wait()
	if !strings.Contains(evOut.String(), "event 'tunable' for domain '"+name+"'") || !strings.Contains(evOut.String(), "cputune.vcpu_quota: 30000") {
		t.Errorf("tunable event:\n%s", evOut.String())
	}
	if v := readCg(t, filepath.Join(cpu, "vcpu0", "cpu.cfs_quota_us")); v != "30000" {
		t.Errorf("live vcpu_quota not applied: %q", v)
	}
	mustVirsh(t, uri, "schedinfo "+name+" --live --set cpu_shares=1500")
	if v := readCg(t, filepath.Join(cpu, "cpu.shares")); v != "1500" {
		t.Errorf("live cpu_shares not applied: %q", v)
	}
	mustVirsh(t, uri, "schedinfo "+name+" --config --set cpu_shares=2048")
	if out := mustVirsh(t, uri, "schedinfo "+name+" --config"); !strings.Contains(out, "cpu_shares     : 2048") {
		t.Errorf("config schedinfo:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dumpxml --inactive "+name); !strings.Contains(out, "<shares>2048</shares>") {
		t.Errorf("config shares not saved:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<shares>1500</shares>") || !strings.Contains(out, "<quota>30000</quota>") {
		t.Errorf("live XML does not follow schedinfo:\n%s", out)
	}
	if _, errOut, rc := virsh(t, uri, "schedinfo "+name+" --live --set vcpu_period=10"); rc == 0 ||
		!strings.Contains(errOut, "value of 'vcpu_period' is out of range [1000, 1000000]") {
		t.Errorf("out of range period: rc=%d %s", rc, errOut)
	}

	// A live pin goes to the thread's cpuset too, so a later pin to
	// another CPU is allowed.
	if runtime.NumCPU() >= 2 {
		set := filepath.Join(cgroupDir("cpuset", id, name), "vcpu1", "cpuset.cpus")
		mustVirsh(t, uri, "vcpupin "+name+" 1 1 --live")
		if v := readCg(t, set); v != "1" {
			t.Errorf("vcpu1 cpuset after vcpupin 1: %q", v)
		}
		mustVirsh(t, uri, "vcpupin "+name+" 1 0 --live")
		if v := readCg(t, set); v != "0" {
			t.Errorf("vcpu1 cpuset after vcpupin 0: %q", v)
		}
		mustVirsh(t, uri, "emulatorpin "+name+" 0 --live")
		if v := readCg(t, filepath.Join(cgroupDir("cpuset", id, name), "emulator", "cpuset.cpus")); v != "0" {
			t.Errorf("emulator cpuset after emulatorpin: %q", v)
		}
	}

	mustVirsh(t, uri, "memtune "+name+" --hard-limit 2097152 --live")
	if v := readCg(t, filepath.Join(cgroupDir("memory", id, name), "memory.limit_in_bytes")); v != "2147483648" {
		t.Errorf("memtune --live not applied: %q", v)
	}
	out = mustVirsh(t, uri, "memtune "+name)
	if !strings.Contains(out, "hard_limit     : 2097152") || !strings.Contains(out, "soft_limit     : unlimited") {
		t.Errorf("memtune:\n%s", out)
	}
	mustVirsh(t, uri, "memtune "+name+" --soft-limit 524288 --config")
	if out := mustVirsh(t, uri, "memtune "+name+" --config"); !strings.Contains(out, "soft_limit     : 524288") ||
		!strings.Contains(out, "hard_limit     : 1048576") {
		t.Errorf("memtune --config:\n%s", out)
	}

	// Throttles live where the block device exists; the weight needs BFQ
	// or CFQ, which this host lacks: libvirt's error then.
	if st, err := os.Stat("/dev/vda"); err == nil && st.Mode()&os.ModeDevice != 0 {
		mustVirsh(t, uri, "blkiotune "+name+" --device-read-iops-sec /dev/vda,100 --live")
		if v := readCg(t, filepath.Join(cgroupDir("blkio", id, name), "blkio.throttle.read_iops_device")); !strings.Contains(v, " 100") {
			t.Errorf("read_iops_device %q", v)
		}
		if out := mustVirsh(t, uri, "dumpxml "+name); !strings.Contains(out, "<read_iops_sec>100</read_iops_sec>") {
			t.Errorf("live blkiotune not in XML:\n%s", out)
		}
	}
	mustVirsh(t, uri, "blkiotune "+name+" --weight 300 --config")
	if out := mustVirsh(t, uri, "blkiotune "+name+" --config"); !strings.Contains(out, "weight         : 300") {
		t.Errorf("blkiotune --config:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(cgroupDir("blkio", id, name), "blkio.bfq.weight")); err != nil {
		if _, errOut, rc := virsh(t, uri, "blkiotune "+name+" --weight 300 --live"); rc == 0 ||
			!strings.Contains(errOut, "blkio weight is valid only for bfq or cfq scheduler") {
			t.Errorf("weight without BFQ: rc=%d %s", rc, errOut)
		}
	}

	total := func() float64 {
		out := mustVirsh(t, uri, "cpu-stats "+name+" --total")
		m := regexp.MustCompile(`cpu_time\s+([0-9.]+) seconds`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("cpu-stats --total:\n%s", out)
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		return f
	}
	t1 := total()
	time.Sleep(1500 * time.Millisecond)
	if t2 := total(); t2 <= t1 {
		t.Errorf("cpu_time did not grow: %v then %v", t1, t2)
	}
	if out := mustVirsh(t, uri, "cpu-stats "+name+" --start 0 --count 1"); !strings.Contains(out, "CPU0:") || !strings.Contains(out, "vcpu_time") {
		t.Errorf("cpu-stats per CPU:\n%s", out)
	}

	// domstats reads the same accounting.
	if out := mustVirsh(t, uri, "domstats --cpu-total "+name); !regexp.MustCompile(`cpu\.time=[1-9][0-9]*`).MatchString(out) || !strings.Contains(out, "cpu.user=") || !strings.Contains(out, "cpu.system=") {
		t.Errorf("domstats --cpu-total:\n%s", out)
	}

	// A restarted daemon finds the group again.
	d.crashRestart()
	waitState(t, d, name, "running (booted)", 20*time.Second)
	if out := mustVirsh(t, uri, "schedinfo "+name); !strings.Contains(out, "cpu_shares     : 1500") || !strings.Contains(out, "vcpu_quota     : 30000") {
		t.Errorf("schedinfo after restart:\n%s", out)
	}
	if out := mustVirsh(t, uri, "memtune "+name); !strings.Contains(out, "hard_limit     : 2097152") {
		t.Errorf("memtune after restart:\n%s", out)
	}
	mustVirsh(t, uri, "schedinfo "+name+" --live --set cpu_shares=700")
	if v := readCg(t, filepath.Join(cpu, "cpu.shares")); v != "700" {
		t.Errorf("after restart: cpu.shares %q", v)
	}

	mustVirsh(t, uri, "destroy "+name)
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "blkio"} {
		if _, err := os.Stat(cgroupDir(c, id, name)); !os.IsNotExist(err) {
			t.Errorf("%s group left after destroy: %v", c, err)
		}
	}
	mustVirsh(t, uri, "undefine "+name)
}

// systemLibvirtdSock is the libvirtd 9.0 this host runs for comparisons.
const systemLibvirtdSock = "/var/run/libvirt/libvirt-sock"

// TestQEMUTuningConfigMatchesLibvirtd defines the same shut-off guest on
// govirtd and on libvirtd 9.0 and compares what virsh prints for the
// tuning commands on the persistent definition and their refusals, and
// the tunables' part of dumpxml --inactive after changes.
func TestQEMUTuningConfigMatchesLibvirtd(t *testing.T) {
	if _, err := os.Stat(systemLibvirtdSock); err != nil {
		t.Skip("no libvirtd")
	}
	d := startDaemon(t)
	ours := d.URI("qemu")
	theirs := "qemu+unix:///system?socket=" + systemLibvirtdSock
	name := fmt.Sprintf("cgcmp%d", os.Getpid())
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>2</vcpu>
  <blkiotune><weight>300</weight><device><path>/dev/vda</path><weight>200</weight><read_iops_sec>100</read_iops_sec></device></blkiotune>
  <memtune><hard_limit unit='KiB'>1048576</hard_limit><swap_hard_limit unit='KiB'>2097152</swap_hard_limit></memtune>
  <cputune><shares>512</shares><period>100000</period><quota>50000</quota><global_quota>-1</global_quota></cputune>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
</domain>
`, name)
	path := filepath.Join(t.TempDir(), "g.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	for _, uri := range []string{ours, theirs} {
		mustVirsh(t, uri, "define "+path)
	}
	t.Cleanup(func() { virsh(t, theirs, "undefine "+name) })
	cmds := []string{
		"schedinfo %s", "schedinfo %s --config", "schedinfo %s --live", "memtune %s", "memtune %s --config",
		"blkiotune %s", "blkiotune %s --config", "cpu-stats %s",
		"schedinfo %s --config --set vcpu_period=10",
		"schedinfo %s --config --set vcpu_quota=5",
		"schedinfo %s --config --set nosuch=5",
		"memtune %s --config --hard-limit 4194304",
		"schedinfo %s --config --set cpu_shares=2048",
		"schedinfo %s --config --set emulator_period=20000",
		"memtune %s --config --soft-limit 524288",
		"memtune %s --config --hard-limit -1",
		"blkiotune %s --config --weight 500",
		"blkiotune %s --config --device-write-bytes-sec /dev/vda,1000",
		"blkiotune %s --config --device-weights /dev/vdb,50",
		"blkiotune %s --config --device-read-iops-sec /dev/vda",
		"schedinfo %s --config", "memtune %s --config", "blkiotune %s --config",
	}
	for _, c := range cmds {
		cmd := fmt.Sprintf(c, name)
		o1, e1, rc1 := virsh(t, ours, cmd)
		o2, e2, rc2 := virsh(t, theirs, cmd)
		e1 = strings.ReplaceAll(e1, ours, "URI")
		e2 = strings.ReplaceAll(e2, theirs, "URI")
		if o1 != o2 || e1 != e2 || rc1 != rc2 {
			t.Errorf("virsh %s:\ngovirtd (rc %d):\n%s%s\nlibvirtd (rc %d):\n%s%s", cmd, rc1, o1, e1, rc2, o2, e2)
		}
	}
	tunables := func(uri string) string {
		out := mustVirsh(t, uri, "dumpxml --inactive "+name)
		var keep []string
		in := false
		for _, l := range strings.Split(out, "\n") {
			s := strings.TrimSpace(l)
			if s == "<blkiotune>" || s == "<memtune>" || s == "<cputune>" {
				in = true
			}
			if in {
				keep = append(keep, l)
			}
			if s == "</blkiotune>" || s == "</memtune>" || s == "</cputune>" {
				in = false
			}
		}
		return strings.Join(keep, "\n")
	}
	if a, b := tunables(ours), tunables(theirs); a != b {
		t.Errorf("dumpxml --inactive tunables:\ngovirtd:\n%s\nlibvirtd:\n%s", a, b)
	}
	mustVirsh(t, ours, "undefine "+name)

	// Refused at define as libvirt's parser and validation refuse them.
	for _, bad := range []string{
		"<memtune><min_guarantee>1000</min_guarantee></memtune>",
		"<cputune><shares>1</shares></cputune>",
		"<cputune><period>10</period></cputune>",
		"<cputune><emulator_quota>20</emulator_quota></cputune>",
		"<cputune><quota>abc</quota></cputune>",
		"<blkiotune><device><path>/dev/vda</path><weight>x</weight></device></blkiotune>",
		"<blkiotune><device><path>/dev/vda</path></device><device><path>/dev/vda</path></device></blkiotune>",
	} {
		bx := strings.Replace(xml, "<vcpu>2</vcpu>", "<vcpu>2</vcpu>"+bad, 1)
		bx = regexp.MustCompile(`(?s)<blkiotune>.*?</blkiotune>|(?s)<memtune>.*?</memtune>|(?s)<cputune>.*?</cputune>`).ReplaceAllStringFunc(bx, func(m string) string {
			if strings.Contains(bad, m) {
				return m
			}
			return ""
		})
		os.WriteFile(path, []byte(bx), 0o644)
		o1, e1, rc1 := virsh(t, ours, "define "+path)
		o2, e2, rc2 := virsh(t, theirs, "define "+path)
		if rc2 == 0 {
			virsh(t, theirs, "undefine "+name)
		}
		if rc1 == 0 {
			virsh(t, ours, "undefine "+name)
		}
		if o1 != o2 || e1 != e2 || rc1 != rc2 {
			t.Errorf("define with %s:\ngovirtd (rc %d): %s%s\nlibvirtd (rc %d): %s%s", bad, rc1, o1, e1, rc2, o2, e2)
		}
	}
}

// TestQEMUCgroupVcpuHotplug: a vCPU plugged with setvcpus --live gets its
// vcpuN group with the guest's vCPU quota, and the group goes with the
// vCPU when it is unplugged.
func TestQEMUCgroupVcpuHotplug(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err != nil {
		t.Skip("no cgroup v1 cpu controller")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	name := fmt.Sprintf("cgh%d", os.Getpid())
	sock := filepath.Join(d.dir, name+".console")
	xml := strings.Replace(guestXML(t, name, sock, "<cputune><quota>40000</quota></cputune>"), "<vcpu>1</vcpu>", "<vcpu placement='static' current='1'>2</vcpu>", 1)
	path := filepath.Join(t.TempDir(), "g.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start "+name)
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, d.Log())
	}
	id := strings.TrimSpace(mustVirsh(t, uri, "domid "+name))
	vcpu1 := filepath.Join(cgroupDir("cpu", id, name), "vcpu1")
	if _, err := os.Stat(vcpu1); !os.IsNotExist(err) {
		t.Fatalf("vcpu1 group before the plug: %v", err)
	}
	mustVirsh(t, uri, "setvcpus "+name+" 2 --live")
	if readCg(t, filepath.Join(vcpu1, "tasks")) == "" {
		t.Error("plugged vCPU's thread not in vcpu1")
	}
	if v := readCg(t, filepath.Join(vcpu1, "cpu.cfs_quota_us")); v != "40000" {
		t.Errorf("vcpu1 quota %q", v)
	}
	// Under TCG the guest may eject the vCPU after libvirt's 5 s; QEMU's
	// late DEVICE_DELETED then completes the removal (as in
	// TestQEMUVcpuHotplug).
	if _, errOut, rc := virsh(t, uri, "setvcpus "+name+" 1 --live"); rc != 0 && !strings.Contains(errOut, "vcpu unplug request timed out") {
		t.Fatalf("setvcpus 1: %s", errOut)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(vcpu1); os.IsNotExist(err) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(vcpu1); !os.IsNotExist(err) {
		t.Errorf("vcpu1 group left after the unplug: %v", err)
	}
	mustVirsh(t, uri, "destroy "+name)
}

// TestQEMUCgroupPartition: <resource><partition> other than /machine must
// exist (govirt, as libvirt, creates only the default one) and be
// absolute; both are refused at start with libvirt's errors.
func TestQEMUCgroupPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err != nil {
		t.Skip("no cgroup v1 cpu controller")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	for i, c := range []struct{ partition, want string }{
		{fmt.Sprintf("/nosuch%d", os.Getpid()), "error: Failed to create v1 controller cpu for group: No such file or directory"},
		{"machine", "error: unsupported configuration: Resource partition 'machine' must start with '/'"},
	} {
		name := fmt.Sprintf("cgp%d-%d", os.Getpid(), i)
		xml := testGuestXML(t, name, "<resource><partition>"+c.partition+"</partition></resource>", "")
		path := filepath.Join(t.TempDir(), "g.xml")
		os.WriteFile(path, []byte(xml), 0o644)
		mustVirsh(t, uri, "define "+path)
		if _, errOut, rc := virsh(t, uri, "start "+name); rc == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("start with partition %q: rc=%d %s", c.partition, rc, errOut)
		}
		if out := mustVirsh(t, uri, "domstate --reason "+name); !strings.Contains(out, "shut off") {
			t.Errorf("state after the refused start: %s", out)
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/cpu", strings.TrimPrefix(c.partition, "/")+".partition")); err == nil {
			t.Errorf("partition %s created", c.partition)
		}
	}
}

// TestTestDriverCPUStatsMatchesLibvirtd: virsh cpu-stats on test:///default
// prints libvirt's test driver numbers, per "CPU" (the node's cores) and
// in total, with its refusals.
func TestTestDriverCPUStatsMatchesLibvirtd(t *testing.T) {
	if _, err := os.Stat(systemLibvirtdSock); err != nil {
		t.Skip("no libvirtd")
	}
	d := startDaemon(t)
	ours := d.URI("test")
	theirs := "test+unix:///default?socket=" + systemLibvirtdSock
	for _, cmd := range []string{"cpu-stats test", "cpu-stats test --total", "cpu-stats test --start 1",
		"cpu-stats test --start 5 --count 1", "cpu-stats test --start 0 --count 1"} {
		o1, e1, rc1 := virsh(t, ours, cmd)
		o2, e2, rc2 := virsh(t, theirs, cmd)
		if o1 != o2 || e1 != e2 || rc1 != rc2 {
			t.Errorf("virsh %s:\ngovirtd (rc %d):\n%s%s\nlibvirtd (rc %d):\n%s%s", cmd, rc1, o1, e1, rc2, o2, e2)
		}
	}
}
