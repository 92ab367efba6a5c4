package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUStartThreadPlacement: a start moves QEMU's own threads into the
// emulator group of the v1 cpu, cpuacct and cpuset hierarchies only after
// its cont (emulator_late.go); once virsh start returned, every thread is
// where libvirt puts it: each vCPU thread in its vcpuN group, every other
// thread (main loop, monitor and RCU helpers) in emulator, none left in
// the root group. The same for a start with --paused, which has no cont,
// and after a restart of the daemon. The guest CPU read back at the start
// is kept on disk.
func TestQEMUStartThreadPlacement(t *testing.T) {
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
	name := fmt.Sprintf("stp%d", os.Getpid())
	xml := strings.Replace(testGuestXML(t, name, "<cputune><emulatorpin cpuset='0'/></cputune>", ""), "<vcpu>1</vcpu>", "<vcpu>2</vcpu>", 1)
	path := filepath.Join(t.TempDir(), "g.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+path)
	check := func(when string) {
		t.Helper()
		id := strings.TrimSpace(mustVirsh(t, uri, "domid "+name))
		group := "/machine/qemu-" + id + "-" + name + ".libvirt-qemu/"
		pid := guestPID(t, d, name)
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		vcpus := 0
		for _, task := range tasks {
			dir := fmt.Sprintf("/proc/%d/task/%s", pid, task.Name())
			comm, err1 := os.ReadFile(dir + "/comm")
			cg, err2 := os.ReadFile(dir + "/cgroup")
			if err1 != nil || err2 != nil {
				continue // the thread ended meanwhile
			}
			want := "emulator"
			var n int
			if _, err := fmt.Sscanf(string(comm), "CPU %d/", &n); err == nil {
				want = fmt.Sprintf("vcpu%d", n)
				vcpus++
			}
			for _, ctl := range []string{"cpu", "cpuacct", "cpuset"} {
				if !strings.Contains(string(cg), ":"+ctl+":"+group+want+"\n") {
					t.Errorf("%s: thread %s (%s) not in %s%s on %s:\n%s", when, task.Name(), strings.TrimSpace(string(comm)), group, want, ctl, cg)
				}
			}
		}
		if vcpus != 2 {
			t.Errorf("%s: %d vCPU threads, want 2", when, vcpus)
		}
		if v := readCg(t, filepath.Join(cgroupDir("cpuset", id, name), "emulator", "cpuset.cpus")); v != "0" {
			t.Errorf("%s: emulator cpuset %q, want the emulatorpin 0", when, v)
		}
	}
	mustVirsh(t, uri, "start "+name)
	waitState(t, d, name, "running (booted)", 20*time.Second)
	check("start")
	// What the start read of the guest CPU is kept for a restarted daemon.
	if _, err := os.Stat(filepath.Join(d.dir, "state", "qemu", "capabilities", "guestcpu.json")); err != nil {
		t.Errorf("guest CPU cache not on disk: %v", err)
	}
	d.crashRestart()
	waitState(t, d, name, "running (booted)", 20*time.Second)
	check("after a restart")
	mustVirsh(t, uri, "destroy "+name)
	mustVirsh(t, uri, "start --paused "+name)
	waitState(t, d, name, "paused (user)", 20*time.Second)
	check("start --paused")
	mustVirsh(t, uri, "destroy "+name)
	mustVirsh(t, uri, "undefine "+name)
}
