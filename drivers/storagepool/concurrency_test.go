package storagepool

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/driver"
)

// gatedLVM stands in for the LVM tools (answering for a volume group vg
// on /dev/sdb with fakeLVS's volumes); `vgchange` reports it started and
// waits until release is called.
func gatedLVM(t *testing.T) (started <-chan struct{}, release func()) {
	t.Helper()
	st, gate := make(chan struct{}), make(chan struct{})
	var once, relOnce sync.Once
	out := map[string]string{"pvs": "  /dev/sdb vg\n", "lvs": fakeLVS, "vgs": "  62914560:50331648\n"}
	old := lvmRun
	lvmRun = func(name string, args ...string) (string, error) {
		if name == "vgchange" {
			once.Do(func() { close(st) })
			<-gate
		}
		return out[name], nil
	}
	release = func() { relOnce.Do(func() { close(gate) }) }
	t.Cleanup(func() { release(); lvmRun = old })
	return st, release
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

func dirPool(t *testing.T, m *Manager, name, target string) driver.Pool {
	t.Helper()
	h, err := m.StoragePoolDefineXML("<pool type='dir'><name>"+name+"</name><target><path>"+target+"</path></target></pool>", 0)
	if err == nil {
		err = m.StoragePoolCreate(h, createWithBuild)
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// While a pool's start is inside a slow LVM command, reads of that pool
// and of the others answer, and volumes of another pool are created; a
// second start of the busy pool waits for the first (libvirt's pool
// lock) and then finds it active.
func TestSlowPoolCommandBlocksOnlyItsPool(t *testing.T) {
	started, release := gatedLVM(t)
	base := t.TempDir()
	m, _ := newTestManager(t, base)
	vg, err := m.StoragePoolDefineXML("<pool type='logical'><name>vg</name><source><device path='/dev/sdb'/></source></pool>", 0)
	if err != nil {
		t.Fatal(err)
	}
	fast := dirPool(t, m, "fast", filepath.Join(base, "fast"))
	startErr := make(chan error, 1)
	go func() { startErr <- m.StoragePoolCreate(vg, 0) }()
	<-started
	second := make(chan error, 1)
	go func() { second <- m.StoragePoolCreate(vg, 0) }()

	ok := finishes(func() {
		if l, err := m.ListAllStoragePools(0); err != nil || len(l) != 2 {
			t.Errorf("list: %v %v", l, err)
		}
		if _, err := m.LookupStoragePoolByName("vg"); err != nil {
			t.Error(err)
		}
		if info, err := m.StoragePoolGetInfo(vg); err != nil || info.State != driver.PoolInactive {
			t.Errorf("info of the busy pool: %+v %v", info, err)
		}
		if x, err := m.StoragePoolGetXMLDesc(vg, 0); err != nil || !strings.Contains(x, "<name>vg</name>") {
			t.Errorf("xml of the busy pool: %v\n%s", err, x)
		}
		if _, err := m.StoragePoolGetInfo(fast); err != nil {
			t.Error(err)
		}
		// Mutating operations on another pool run in parallel.
		if _, err := m.StorageVolCreateXML(fast, "<volume><name>a</name><capacity>1048576</capacity></volume>", 0); err != nil {
			t.Errorf("volume of another pool: %v", err)
		}
		if err := m.StoragePoolRefresh(fast, 0); err != nil {
			t.Errorf("refresh of another pool: %v", err)
		}
		if vols, err := m.StoragePoolListAllVolumes(fast, 0); err != nil || len(vols) != 1 {
			t.Errorf("volumes of another pool: %v %v", vols, err)
		}
	}, 30*time.Second)
	if !ok {
		t.Fatal("reads and operations on another pool waited for the slow command")
	}
	select {
	case err := <-startErr:
		t.Fatalf("slow start returned before its command finished: %v", err)
	case err := <-second:
		t.Fatalf("second start of the busy pool did not wait: %v", err)
	default:
	}
	release()
	if err := <-startErr; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err == nil || !strings.Contains(err.Error(), "storage pool 'vg' is already active") {
		t.Fatalf("second start: %v", err)
	}
	if vols, err := m.StoragePoolListAllVolumes(vg, 0); err != nil || len(vols) != 2 {
		t.Fatalf("volumes after start: %v %v", vols, err)
	}
}

// A volume being written by a slow qemu-img is "being allocated" (its
// pool has an asynchronous job), as in libvirt: operations on it and
// pool state changes are refused with libvirt's errors, while reads and
// another volume of the same pool go ahead.
func TestSlowVolumeBuildRefusesConflicts(t *testing.T) {
	base := t.TempDir()
	gate, mark := filepath.Join(base, "gate"), filepath.Join(base, "started")
	script := filepath.Join(base, "qemu-img")
	// Stands in for qemu-img create: the image is an empty file.
	body := "#!/bin/sh\ntouch " + mark + "\nwhile [ ! -e " + gate + " ]; do sleep 0.02; done\n" +
		"for a; do last2=$last; last=$a; done\n: > \"$last2\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(gate, nil, 0o644)
	m, _ := newTestManager(t, base)
	m.qemuImg = script
	h := dirPool(t, m, "p", filepath.Join(base, "p"))
	built := make(chan error, 1)
	go func() {
		_, err := m.StorageVolCreateXML(h, "<volume><name>big.qcow2</name><capacity unit='G'>10</capacity>"+
			"<target><format type='qcow2'/></target></volume>", 0)
		built <- err
	}()
	for i := 0; ; i++ {
		if _, err := os.Stat(mark); err == nil {
			break
		}
		if i > 1500 {
			t.Fatal("qemu-img never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	big := driver.Vol{Pool: "p", Name: "big.qcow2", Key: filepath.Join(base, "p", "big.qcow2")}
	ok := finishes(func() {
		if vols, err := m.StoragePoolListAllVolumes(h, 0); err != nil || len(vols) != 1 {
			t.Errorf("vol-list during the build: %v %v", vols, err)
		}
		for what, err := range map[string]error{
			"vol-info":     func() error { _, err := m.StorageVolGetInfo(big); return err }(),
			"vol-delete":   m.StorageVolDelete(big, 0),
			"vol-wipe":     m.StorageVolWipe(big, 0),
			"pool-refresh": m.StoragePoolRefresh(h, 0),
			"pool-destroy": m.StoragePoolDestroy(h),
		} {
			want := "volume 'big.qcow2' is still being allocated."
			if strings.HasPrefix(what, "pool") {
				want = "pool 'p' has asynchronous jobs running."
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s during the build: %v, want %q", what, err, want)
			}
		}
		if _, err := m.StorageVolCreateXML(h, "<volume><name>small</name><capacity>1048576</capacity></volume>", 0); err != nil {
			t.Errorf("another volume during the build: %v", err)
		}
		if _, err := m.StoragePoolGetInfo(h); err != nil {
			t.Error(err)
		}
	}, 30*time.Second)
	if !ok {
		t.Fatal("operations waited for the slow qemu-img")
	}
	select {
	case err := <-built:
		t.Fatalf("build returned before qemu-img finished: %v", err)
	default:
	}
	os.WriteFile(gate, nil, 0o644)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	if _, err := m.StorageVolGetInfo(big); err != nil {
		t.Fatal(err)
	}
	if err := m.StoragePoolDestroy(h); err != nil {
		t.Fatal(err)
	}
}

// Mixed operations on a few pools from many goroutines: the race
// detector watches the records shared between the locks, and every
// operation ends (no deadlock between pool operation locks).
func TestMixedPoolOperationsStress(t *testing.T) {
	base := t.TempDir()
	m, _ := newTestManager(t, base)
	names := []string{"s0", "s1", "s2"}
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				k := (g + i) % len(names)
				name, other := names[k], names[(k+1)%len(names)]
				h, err := m.StoragePoolDefineXML("<pool type='dir'><name>"+name+"</name>"+
					"<uuid>5e0c3b7a-8f8f-4a44-9a1e-0c6f2b1d0c0"+string(rune('0'+k))+"</uuid><target><path>"+
					filepath.Join(base, name)+"</path></target></pool>", 0)
				if err != nil {
					continue
				}
				_ = m.StoragePoolCreate(h, createWithBuild)
				v, err := m.StorageVolCreateXML(h, "<volume><name>v"+string(rune('a'+g))+"</name><capacity>4096</capacity></volume>", 0)
				if err == nil {
					// Into another pool: two pools' operation locks.
					if oh, err := m.LookupStoragePoolByName(other); err == nil {
						_, _ = m.StorageVolCreateXMLFrom(oh, "<volume><name>c"+string(rune('a'+g))+"</name></volume>", v, 0)
					}
					_, _ = m.StorageVolGetInfo(v)
					_ = m.StorageVolWipe(v, 0)
					_ = m.StorageVolDelete(v, 0)
				}
				_, _ = m.ListAllStoragePools(0)
				_, _ = m.StoragePoolGetInfo(h)
				_, _ = m.StoragePoolGetXMLDesc(h, 0)
				_, _ = m.StoragePoolListAllVolumes(h, 0)
				_ = m.StoragePoolRefresh(h, 0)
				if i%3 == 0 {
					_ = m.StoragePoolDestroy(h)
					_ = m.StoragePoolUndefine(h)
				}
			}
		}(g)
	}
	if !finishes(wg.Wait, 60*time.Second) {
		t.Fatal("mixed operations did not finish")
	}
}
