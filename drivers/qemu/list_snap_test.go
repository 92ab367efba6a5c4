package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"govirt/conf"
	"govirt/driver"
)

// listDriver makes a started driver with n defined (not running) guests
// g0..g(n-1).
func listDriver(t testing.TB, n int) (*Driver, *conn, []*vm) {
	t.Helper()
	dir := t.TempDir()
	d := New(Config{StateDir: dir + "/state", RunDir: dir + "/run"})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var vms []*vm
	for i := 0; i < n; i++ {
		def, err := conf.ParseDomain([]byte(fmt.Sprintf("<domain type='qemu'><name>g%d</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		v := newVM(def, true)
		if err := d.doms.add(v); err != nil {
			t.Fatal(err)
		}
		vms = append(vms, v)
	}
	return d, &conn{d: d}, vms
}

func names(doms []driver.Domain) string {
	s := ""
	for _, h := range doms {
		s += fmt.Sprintf("%s:%d ", h.Name, h.ID)
	}
	return s
}

func mustList(t *testing.T, c *conn, flags uint32) []driver.Domain {
	t.Helper()
	doms, err := c.ListAllDomains(flags)
	if err != nil {
		t.Fatal(err)
	}
	return doms
}

func TestListSnapshotFollowsChanges(t *testing.T) {
	d, c, vms := listDriver(t, 3)
	first := mustList(t, c, 0)
	if got := names(first); got != "g0:-1 g1:-1 g2:-1 " {
		t.Fatalf("list = %q", got)
	}
	// Unchanged guests, and guests only read, give the very same slice.
	vms[1].mu.Lock()
	_ = vms[1].state
	vms[1].mu.Unlock()
	if again := mustList(t, c, 0); &again[0] != &first[0] {
		t.Fatal("an unchanged listing was rebuilt")
	}

	// A state change shows at once, in the handles and in the filters.
	vms[1].mu.Lock()
	vms[1].id = 7
	vms[1].setState(driver.StateRunning, driver.RunningBooted)
	vms[1].mu.Unlock()
	if got := names(mustList(t, c, 0)); got != "g0:-1 g1:7 g2:-1 " {
		t.Fatalf("after start: %q", got)
	}
	if got := names(mustList(t, c, driver.ListActive)); got != "g1:7 " {
		t.Fatalf("active: %q", got)
	}
	if got := names(mustList(t, c, driver.ListShutoff)); got != "g0:-1 g2:-1 " {
		t.Fatalf("shut off: %q", got)
	}

	// Guests added and removed.
	d.doms.remove(vms[0])
	if got := names(mustList(t, c, 0)); got != "g1:7 g2:-1 " {
		t.Fatalf("after remove: %q", got)
	}

	// Managed save images, made and removed back to back.
	for i := 0; i < 3; i++ {
		if err := os.WriteFile(filepath.Join(d.dirs.save, "g2.save"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := names(mustList(t, c, driver.ListManagedSave)); got != "g2:-1 " {
			t.Fatalf("managed save %d: %q", i, got)
		}
		d.removeManagedSave("g2")
		if got := names(mustList(t, c, driver.ListManagedSave)); got != "" {
			t.Fatalf("managed save removed %d: %q", i, got)
		}
	}
}

// TestListSnapshotConcurrent changes guests while others list (run with
// -race); every listing must show each guest in a state it was in.
func TestListSnapshotConcurrent(t *testing.T) {
	_, c, vms := listDriver(t, 50)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, v := range vms[:10] {
		wg.Add(1)
		go func(v *vm) {
			defer wg.Done()
			for i := int32(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v.mu.Lock()
				if v.id < 0 {
					v.id = i + 1
					v.setState(driver.StateRunning, driver.RunningBooted)
				} else {
					v.id = -1
					v.setState(driver.StateShutoff, driver.ShutoffDestroyed)
				}
				v.mu.Unlock()
				time.Sleep(10 * time.Microsecond)
			}
		}(v)
	}
	for i := 0; i < 300; i++ {
		for _, h := range mustList(t, c, driver.ListActive) {
			if h.ID < 0 {
				t.Fatalf("inactive %s listed as active", h.Name)
			}
		}
	}
	close(stop)
	wg.Wait()
	// Once quiet, the listing is exact.
	want := 0
	for _, v := range vms {
		v.mu.Lock()
		if v.id >= 0 {
			want++
		}
		v.mu.Unlock()
	}
	if got := len(mustList(t, c, driver.ListActive)); got != want {
		t.Fatalf("%d active listed, %d are", got, want)
	}
}

func BenchmarkListAllDomains1000(b *testing.B) {
	_, c, _ := listDriver(b, 1000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.ListAllDomains(0); err != nil {
			b.Fatal(err)
		}
	}
}
