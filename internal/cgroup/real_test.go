package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRealHost places a sleeping child in a machine group on this host's
// real cgroups (root only), moves one of its threads into a vcpu
// sub-group, tunes it, finds it again from /proc/PID/cgroup and removes
// it. The machine name is unique so concurrent runs never share a group.
func TestRealHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	h, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	if !h.Available() {
		t.Skip("no cgroup controllers")
	}
	t.Logf("controllers: %v", h.Controllers())
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	name := MachineName("qemu", os.Getpid()%100000, fmt.Sprintf("cgtest%d", time.Now().UnixNano()%1e6))
	g, err := h.NewMachine("/machine", name, "qemu")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	if err := g.AddProcess(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	em, err := g.Thread(ThreadEmulator, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := em.AddProcess(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if g.Has(CPU) {
		if err := g.SetCPUShares(512); err != nil {
			t.Fatal(err)
		}
		if v, err := g.CPUShares(); err != nil || v != 512 {
			t.Errorf("shares %d %v", v, err)
		}
		if err := em.SetupCPUPeriodQuota(50000, 25000); err != nil {
			t.Fatal(err)
		}
		if p, q, err := em.CPUPeriodQuota(); err != nil || p != 50000 || q != 25000 {
			t.Errorf("period/quota %d %d %v", p, q, err)
		}
	}
	if g.Has(Memory) {
		if err := g.SetMemoryLimit("hard", 512*1024); err != nil {
			t.Fatal(err)
		}
		if v, err := g.MemoryLimit("hard"); err != nil || v != 512*1024 {
			t.Errorf("hard %d %v", v, err)
		}
		if v, err := g.MemoryLimit("soft"); err != nil || v != Unlimited {
			t.Errorf("soft %d %v", v, err)
		}
	}
	if g.Has(CPUAcct) {
		if _, err := g.CPUAcctUsage(); err != nil {
			t.Error(err)
		}
		if _, _, err := g.CPUAcctStat(); err != nil {
			t.Error(err)
		}
	}
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	if !strings.Contains(string(data), g.Path()) {
		t.Errorf("process not placed: %s", data)
	}
	found, err := h.FindMachine(cmd.Process.Pid, name, "qemu")
	if err != nil || found == nil || found.Path() != g.Path() {
		t.Fatalf("FindMachine: %v %v", found, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.ctl {
		if _, err := os.Stat(h.dirOf(c, g.Path())); !os.IsNotExist(err) {
			t.Errorf("%s: group left behind", c)
		}
	}
}
