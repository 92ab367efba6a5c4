package qemu

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"
	"weak"

	"govirt/driver"
)

// TestRealGuestsLeaveNothing is TestStoppedGuestsLeaveNothing with real
// QEMU processes started and destroyed through the driver's API: a pty
// console (its hub), VNC autoport (the driver's allocator), a
// qemu-monitor-command (a taint), a statistics sample and the block
// state of a start. After destroy and undefine, every vm is collected,
// the goroutine count is back to its baseline, and no VNC port stays
// reserved.
func TestRealGuestsLeaveNothing(t *testing.T) {
	const emulator = "/usr/bin/qemu-system-x86_64"
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	if _, err := os.Stat(emulator); err != nil {
		t.Skip("no QEMU:", err)
	}
	// Short paths: monitor sockets must fit sun_path.
	dir, err := os.MkdirTemp("", "gvleak")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// A display range of its own: govirtd daemons of the integration tests,
	// run in parallel with this package, take ports from 5900 up.
	vncLo := 30000 + os.Getpid()%20000
	d := New(Config{StateDir: dir + "/s", RunDir: dir + "/r", Emulator: emulator, Log: slog.New(slog.DiscardHandler),
		VNCPortMin: vncLo, VNCPortMax: vncLo + 500})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &conn{d: d}

	cycle := func(i int) weak.Pointer[vm] {
		t.Helper()
		persistent := i%2 == 0
		name := fmt.Sprintf("lq%d", i)
		xml := fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory>32768</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><serial type='pty'/><console type='pty'/><graphics type='vnc' autoport='yes'/></devices></domain>`, name)
		var h driver.Domain
		if persistent {
			if h, err = c.DomainDefineXML(xml, 0); err != nil {
				t.Fatal(err)
			}
			if h, err = c.DomainCreate(h, 0); err != nil {
				t.Fatal(err)
			}
		} else if h, err = c.DomainCreateXML(xml, 0); err != nil {
			t.Fatal(err)
		}
		v := d.doms.byNameLookup(name)
		if v == nil {
			t.Fatalf("%s not registered", name)
		}
		if _, err := c.QemuMonitorCommand(h, `{"execute":"query-status"}`, 0); err != nil {
			t.Fatal(err)
		}
		if d.sample(v) == nil {
			t.Errorf("%s: no statistics sample", name)
		}
		v.ext.hubsMu.Lock()
		hubs := len(v.ext.hubs)
		v.ext.hubsMu.Unlock()
		if hubs == 0 {
			t.Errorf("%s: the pty console has no hub", name)
		}
		if err := c.DomainDestroy(h, 0); err != nil {
			t.Fatal(err)
		}
		if persistent {
			h.ID = -1
			if err := c.DomainUndefine(h, 0); err != nil {
				t.Fatal(err)
			}
		}
		return weak.Make(v)
	}

	// One warm-up run probes and caches the emulator's capabilities.
	_ = cycle(0)
	runtime.GC()
	base := runtime.NumGoroutine()
	var refs []weak.Pointer[vm]
	for i := 1; i <= 6; i++ {
		refs = append(refs, cycle(i))
	}
	if n := len(d.doms.all()); n != 0 {
		t.Fatalf("%d guests still registered", n)
	}
	alive, goroutines := 0, 0
	for try := 0; try < 300; try++ {
		runtime.GC()
		alive = 0
		for _, r := range refs {
			if r.Value() != nil {
				alive++
			}
		}
		goroutines = runtime.NumGoroutine()
		if alive == 0 && goroutines <= base {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if alive != 0 || goroutines > base {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d of %d stopped guests still referenced; %d goroutines, baseline %d\n%s", alive, len(refs), goroutines, base, buf)
	}
	d.vncPorts.mu.Lock()
	reserved := len(d.vncPorts.reserved)
	d.vncPorts.mu.Unlock()
	if reserved != 0 {
		t.Errorf("%d VNC ports still reserved", reserved)
	}
}
