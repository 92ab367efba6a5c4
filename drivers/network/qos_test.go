package network

import (
	"os/exec"
	"strings"
	"sync"
	"testing"

	"govirt/conf"
	"govirt/uuid"
)

// recordCommands replaces the driver's commands with "true" and records
// them.
func recordCommands(t *testing.T) func() []string {
	var mu sync.Mutex
	var got []string
	old := execCommand
	execCommand = func(name string, args ...string) *exec.Cmd {
		mu.Lock()
		got = append(got, name+" "+strings.Join(args, " "))
		mu.Unlock()
		return exec.Command("true")
	}
	t.Cleanup(func() { execCommand = old })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

// TestPortFloorTC: the tc commands of a floor's plug, change and unplug
// are libvirt's (virNetDevBandwidthPlug, UpdateRate, Unplug).
func TestPortFloorTC(t *testing.T) {
	cmds := recordCommands(t)
	live, err := conf.ParseNetwork([]byte(`<network><name>q</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
<bridge name='qbr0'/><bandwidth><inbound average='1000' peak='2000'/></bandwidth><ip address='10.0.0.1' prefix='24'/></network>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{StateDir: t.TempDir(), RunDir: t.TempDir()})
	o := &netObj{netState: netState{def: live, live: live, active: true}}
	p := &conf.NetworkPort{UUID: uuid.New(), MAC: "52:54:00:aa:bb:cc", In: &conf.BandwidthRate{Average: 100, Floor: 300}}
	if err := m.plugPort(o, live, p); err != nil {
		t.Fatal(err)
	}
	o.ports = map[uuid.UUID]*conf.NetworkPort{p.UUID: p}
	want := []string{
		"tc class add dev qbr0 parent 1:1 classid 1:3 htb rate 300kbps ceil 2000kbps quantum 8",
		"tc qdisc add dev qbr0 parent 1:3 handle 3: sfq perturb 10",
		"tc filter add dev qbr0 protocol ip prio 2 handle 800::803 u32 match u16 0x0800 0xffff at -2 match u32 0x00aabbcc 0xffffffff at -12 match u16 0x5254 0xffff at -14 flowid 1:3",
		"tc class change dev qbr0 classid 1:2 htb rate 1700kbps ceil 2000kbps quantum 85",
	}
	if got := cmds(); strings.Join(got, "\n") != strings.Join(want, "\n") || p.ClassID != 3 {
		t.Errorf("plug (class %d):\n%s", p.ClassID, strings.Join(got, "\n"))
	}
	// Another floor overcommitting the peak is refused.
	q := &conf.NetworkPort{UUID: uuid.New(), MAC: "52:54:00:aa:bb:cd", In: &conf.BandwidthRate{Floor: 1800}}
	if err := m.plugPort(o, live, q); err == nil || !strings.Contains(err.Error(), "Cannot plug '52:54:00:aa:bb:cd' interface into 'qbr0' because new combined inbound floor=2100 would overcommit peak=2000 on network 'q'") {
		t.Errorf("overcommit: %v", err)
	}
	// A new floor changes the class and what 1:2 gets.
	np := p.Clone()
	np.In.Floor = 500
	if err := m.updatePortFloor(o, live, np, p); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"tc class change dev qbr0 classid 1:3 htb rate 500kbps ceil 2000kbps quantum 85",
		"tc class change dev qbr0 classid 1:2 htb rate 1500kbps ceil 2000kbps quantum 85",
	}
	if got := cmds(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("change:\n%s", strings.Join(got, "\n"))
	}
	o.ports[p.UUID] = np
	// Without a floor the class goes.
	nn := np.Clone()
	nn.In = &conf.BandwidthRate{Average: 100}
	if err := m.updatePortFloor(o, live, nn, np); err != nil || nn.ClassID != 0 {
		t.Fatalf("drop floor: %v (class %d)", err, nn.ClassID)
	}
	want = []string{
		"tc qdisc del dev qbr0 handle 3:",
		"tc filter del dev qbr0 prio 2 handle 800::803 u32",
		"tc class del dev qbr0 classid 1:3",
		"tc class change dev qbr0 classid 1:2 htb rate 2000kbps ceil 2000kbps quantum 85",
	}
	if got := cmds(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unplug:\n%s", strings.Join(got, "\n"))
	}
}
