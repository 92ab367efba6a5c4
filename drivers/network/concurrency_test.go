package network

import (
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/driver"
)

// gatedCommands replaces the driver's commands: each answers at once
// doing nothing, except `ip link add name BR` for the bridge slow, which
// reports it started and then waits until release is called. Nothing
// touches the host.
func gatedCommands(t *testing.T, slow string) (started <-chan struct{}, release func()) {
	t.Helper()
	st := make(chan struct{})
	gate := make(chan struct{})
	var once, relOnce sync.Once
	old := execCommand
	execCommand = func(name string, args ...string) *exec.Cmd {
		if name == "ip" && strings.HasPrefix(strings.Join(args, " "), "link add name "+slow+" ") {
			once.Do(func() { close(st) })
			<-gate
		}
		return exec.Command("true")
	}
	release = func() { relOnce.Do(func() { close(gate) }) }
	t.Cleanup(func() { release(); execCommand = old })
	return st, release
}

func isolatedXML(name, uuid, br string) string {
	return "<network><name>" + name + "</name><uuid>" + uuid + "</uuid><bridge name='" + br + "'/></network>"
}

// finishes reports whether fn returns before the deadline.
func finishes(fn func(), d time.Duration) bool {
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// While one network's start is inside a slow command, reads of it and of
// the others answer, and another network starts and stops; operations on
// the busy network wait for it (libvirt's per-network lock) and then see
// its new state.
func TestSlowCommandBlocksOnlyItsNetwork(t *testing.T) {
	started, release := gatedCommands(t, "gvtslow0")
	m, _ := newTestManager(t, t.TempDir())
	slow, err := m.NetworkDefineXML(isolatedXML("slow", "5e0c3b7a-8f8f-4a44-9a1e-0c6f2b1d0a01", "gvtslow0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := m.NetworkDefineXML(isolatedXML("fast", "5e0c3b7a-8f8f-4a44-9a1e-0c6f2b1d0a02", "gvtfast0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	startErr := make(chan error, 1)
	go func() { startErr <- m.NetworkCreate(slow) }()
	<-started

	// Another start and a destroy of the busy network queue behind it.
	second := make(chan error, 1)
	go func() { second <- m.NetworkCreate(slow) }()

	ok := finishes(func() {
		if l, err := m.ListAllNetworks(0); err != nil || len(l) != 2 {
			t.Errorf("list: %v %v", l, err)
		}
		if _, err := m.LookupNetworkByName("slow"); err != nil {
			t.Error(err)
		}
		if x, err := m.NetworkGetXMLDesc(slow, 0); err != nil || !strings.Contains(x, "gvtslow0") {
			t.Errorf("xml of the busy network: %v\n%s", err, x)
		}
		if on, err := m.NetworkIsActive(slow); err != nil || on {
			t.Errorf("busy network active = %v, %v; want not yet", on, err)
		}
		if br, err := m.NetworkGetBridgeName(slow); err != nil || br != "gvtslow0" {
			t.Errorf("bridge %q %v", br, err)
		}
		if _, err := m.NetworkGetXMLDesc(fast, netXMLInactive); err != nil {
			t.Error(err)
		}
		// A mutating operation on another network runs in parallel.
		if err := m.NetworkCreate(fast); err != nil {
			t.Errorf("start of another network: %v", err)
		}
		if err := m.NetworkDestroy(fast); err != nil {
			t.Errorf("destroy of another network: %v", err)
		}
		if _, err := m.NetworkDefineXML(isolatedXML("third", "5e0c3b7a-8f8f-4a44-9a1e-0c6f2b1d0a03", "gvtthird0"), 0); err != nil {
			t.Errorf("define of another network: %v", err)
		}
	}, 30*time.Second)
	if !ok {
		t.Fatal("reads and operations on other networks waited for the slow command")
	}
	select {
	case err := <-startErr:
		t.Fatalf("slow start returned before its command finished: %v", err)
	case err := <-second:
		t.Fatalf("second start of the busy network did not wait: %v", err)
	default:
	}
	release()
	if err := <-startErr; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err == nil || !strings.Contains(err.Error(), "network is already active") {
		t.Fatalf("second start: %v", err)
	}
	if on, _ := m.NetworkIsActive(slow); !on {
		t.Fatal("network not active after its start")
	}
	if err := m.NetworkDestroy(slow); err != nil {
		t.Fatal(err)
	}
}

// Concurrent defines never give two networks the same bridge.
func TestConcurrentDefinesGetDistinctBridges(t *testing.T) {
	m, _ := newTestManager(t, t.TempDir())
	var wg sync.WaitGroup
	nets := make([]driver.Network, 8)
	for i := range nets {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n, err := m.NetworkDefineXML("<network><name>n"+string(rune('a'+i))+"</name><bridge name='gvtdef%d'/></network>", 0)
			if err != nil {
				t.Error(err)
			}
			nets[i] = n
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, n := range nets {
		br, err := m.NetworkGetBridgeName(n)
		if err != nil || seen[br] {
			t.Fatalf("bridge %q (%v) given twice", br, err)
		}
		seen[br] = true
	}
}

// Mixed operations on a few networks from many goroutines: the race
// detector watches the records shared between the locks, and every
// operation ends.
func TestMixedNetworkOperationsStress(t *testing.T) {
	gatedCommands(t, "none")
	m, _ := newTestManager(t, t.TempDir())
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 12; i++ {
				k := (g + i) % 3
				name := "s" + string(rune('0'+k))
				n, err := m.NetworkDefineXML(isolatedXML(name, "5e0c3b7a-8f8f-4a44-9a1e-0c6f2b1d0b0"+string(rune('0'+k)), "gvtst"+string(rune('0'+k))), 0)
				if err != nil {
					continue
				}
				_ = m.NetworkCreate(n)
				_, _ = m.ListAllNetworks(0)
				_, _ = m.NetworkGetXMLDesc(n, 0)
				_, _ = m.NetworkIsActive(n)
				_ = m.NetworkSetAutostart(n, i%2 == 0)
				_ = m.NetworkDestroy(n)
				if i%3 == 0 {
					_ = m.NetworkUndefine(n)
				}
			}
		}(g)
	}
	if !finishes(wg.Wait, 60*time.Second) {
		t.Fatal("mixed operations did not finish")
	}
}
