package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// opens runs a shell in g that tries to open each path for reading and
// reports "PATH ok" or "PATH denied" per line.
func opens(t *testing.T, g *Group, paths ...string) map[string]string {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `read x; for p in "$@"; do if true < "$p" 2>/dev/null; then echo "$p ok"; else echo "$p denied"; fi; done`, "sh"}, paths...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := g.AddProcess(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	in.Write([]byte("go\n"))
	in.Close()
	cmd.Wait()
	res := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if p, v, ok := strings.Cut(l, " "); ok {
			res[p] = v
		}
	}
	return res
}

// TestV2DeviceProgram runs the BPF device list on this host's real
// unified hierarchy (root only; a hybrid host's v1 devices controller is
// set aside): deny-all with /dev/null allowed, a device allowed and
// denied again, a whole major, the map outgrowing its 64 entries, and a
// second Group value (a restarted daemon) taking over the program.
func TestV2DeviceProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	h, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	if !h.UseV2Devices() {
		t.Skip("no cgroup v2 device programs here")
	}
	name := MachineName("qemu", os.Getpid()%100000, fmt.Sprintf("bpftest%d", time.Now().UnixNano()%1e6))
	g, err := h.NewMachine("/machine", name, "qemu")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	if !g.Has(Devices) || !h.isV2(Devices) {
		t.Fatalf("group has no v2 devices: %v", g.ctl)
	}
	if err := g.DenyAllDevices(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AllowDevicePath("/dev/null", "rw"); err != nil {
		t.Fatal(err)
	}
	r := opens(t, g, "/dev/null", "/dev/zero", "/dev/full")
	if r["/dev/null"] != "ok" || r["/dev/zero"] != "denied" || r["/dev/full"] != "denied" {
		t.Errorf("deny-all plus /dev/null: %v", r)
	}
	if _, err := g.AllowDevicePath("/dev/zero", "r"); err != nil {
		t.Fatal(err)
	}
	if r := opens(t, g, "/dev/zero"); r["/dev/zero"] != "ok" {
		t.Errorf("allowed /dev/zero: %v", r)
	}
	list, err := g.DeviceList()
	if err != nil || !strings.Contains(list, "c 1:5 r") || !strings.Contains(list, "c 1:3 rw") {
		t.Errorf("list %q %v", list, err)
	}
	if _, err := g.DenyDevicePath("/dev/zero", "rwm"); err != nil {
		t.Fatal(err)
	}
	if r := opens(t, g, "/dev/zero"); r["/dev/zero"] != "denied" {
		t.Errorf("denied again /dev/zero: %v", r)
	}
	// A whole major.
	if err := g.AllowDevice('c', 1, -1, "r"); err != nil {
		t.Fatal(err)
	}
	if r := opens(t, g, "/dev/full", "/dev/zero"); r["/dev/full"] != "ok" || r["/dev/zero"] != "ok" {
		t.Errorf("c 1:* r: %v", r)
	}
	if err := g.DenyDevice('c', 1, -1, "rwm"); err != nil {
		t.Fatal(err)
	}
	// More entries than the first map holds: a bigger map and program.
	for i := 0; i < 70; i++ {
		if err := g.AllowDevice('b', 250, i, "rw"); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if g.dev.max < 128 || g.dev.count != 71 {
		t.Errorf("map max %d count %d", g.dev.max, g.dev.count)
	}
	r = opens(t, g, "/dev/null", "/dev/zero")
	if r["/dev/null"] != "ok" || r["/dev/zero"] != "denied" {
		t.Errorf("after the map grew: %v", r)
	}
	// A restarted daemon's view of the same group.
	g2 := h.Open(g.rel)
	l1, _ := g.DeviceList()
	l2, err := g2.DeviceList()
	if err != nil || l1 != l2 {
		t.Errorf("list seen again: %v\n%s\nwant\n%s", err, l2, l1)
	}
	if _, err := g2.AllowDevicePath("/dev/zero", "r"); err != nil {
		t.Fatal(err)
	}
	if r := opens(t, g, "/dev/zero"); r["/dev/zero"] != "ok" {
		t.Errorf("allowed through the group found again: %v", r)
	}
	g2.closeDevices()
}
