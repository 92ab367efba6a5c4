package qemu

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"weak"

	"govirt/conf"
	"govirt/driver"
)

// TestStoppedGuestsLeaveNothing defines, runs, destroys and undefines
// persistent and transient guests with every per-guest subsystem in use
// (block state, taints, a statistics sample, a console hub, an unplug
// waiter, snapshot metadata lock) and checks that nothing keeps them: the
// vm objects are collected and the goroutine count returns to its
// baseline. Before the per-guest state moved onto the vm, the block state
// and taint tables kept every such guest alive forever.
func TestStoppedGuestsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	d := New(Config{StateDir: dir + "/state", RunDir: dir + "/run", Emulator: dir + "/no-such-qemu"})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &conn{d: d}
	runtime.GC()
	base := runtime.NumGoroutine()

	var refs []weak.Pointer[vm]
	for i := 0; i < 24; i++ {
		persistent := i%2 == 0
		name := fmt.Sprintf("leak%d", i)
		xml := fmt.Sprintf("<domain type='qemu'><name>%s</name><memory>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>", name)
		var v *vm
		if persistent {
			if _, err := c.DomainDefineXML(xml, 0); err != nil {
				t.Fatal(err)
			}
			v = d.doms.byNameLookup(name)
		} else {
			def, err := conf.ParseDomain([]byte(xml), 0)
			if err != nil {
				t.Fatal(err)
			}
			v = newVM(def, false)
			if err := d.doms.add(v); err != nil {
				t.Fatal(err)
			}
		}
		fakeRunning(t, d, v, dir)
		v.mu.Lock()
		h := v.handle()
		v.mu.Unlock()
		if err := c.DomainDestroy(h, 0); err != nil {
			t.Fatal(err)
		}
		if persistent {
			h.ID = -1
			if err := c.DomainUndefine(h, 0); err != nil {
				t.Fatal(err)
			}
		}
		refs = append(refs, weak.Make(v))
	}
	if n := len(d.doms.all()); n != 0 {
		t.Fatalf("%d guests still registered", n)
	}
	d.pendingMu.Lock()
	pending := len(d.pendingBlock)
	d.pendingMu.Unlock()
	if pending != 0 {
		t.Fatalf("%d pending block states left", pending)
	}

	// Collection and goroutine exit are asynchronous (hub readers, the
	// process reaper): poll generously, never assert a tight bound.
	alive, goroutines := 0, 0
	for try := 0; try < 200; try++ {
		runtime.GC()
		alive = 0
		for _, r := range refs {
			if r.Value() != nil {
				alive++
			}
		}
		goroutines = runtime.NumGoroutine()
		if alive == 0 && goroutines <= base {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%d of %d stopped guests still referenced; %d goroutines, baseline %d", alive, len(refs), goroutines, base)
}

// fakeRunning makes v look like a running guest on a fake monitor, with a
// real process to destroy, and puts every per-guest subsystem to use.
func fakeRunning(t *testing.T, d *Driver, v *vm, dir string) {
	t.Helper()
	proc, err := spawn([]string{"/bin/sleep", "600"}, nil, filepath.Join(dir, "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	mon := &fakeMonitor{}
	v.mu.Lock()
	v.live = v.current().Clone()
	v.mon, v.proc = mon, proc
	v.id = d.doms.assignID(v, 0)
	v.startedAt = time.Now()
	v.setState(driver.StateRunning, driver.RunningBooted)
	resetBlockState(v, 1)
	allocIndex(v)
	v.mu.Unlock()

	d.taint(v, taintCustomMonitor)
	d.sample(v)
	v.ext.unplugMu.Lock()
	v.ext.unplug = &unplugWait{alias: "x", done: make(chan struct{})}
	v.ext.unplugMu.Unlock()
	v.ext.snapMu.Lock()
	v.ext.snapMu.Unlock()
	// A console hub whose reader blocks until the guest stops.
	guestEnd, hubEnd := net.Pipe()
	t.Cleanup(func() { guestEnd.Close() })
	if _, err := hubFor(v, "/dev/pts/fake", func() (*consoleHub, error) {
		return newHub(d, v, "/dev/pts/fake", hubEnd, true), nil
	}); err != nil {
		t.Fatal(err)
	}
}
