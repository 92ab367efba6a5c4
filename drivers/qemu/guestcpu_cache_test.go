package qemu

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"govirt/drivers/qemu/caps"
)

// countingMonitor answers the guest CPU read-back (a vCPU with two
// boolean properties, one on) and counts qom-list calls, i.e. reads.
type countingMonitor struct {
	reads atomic.Int32
	delay time.Duration
}

func (m *countingMonitor) Execute(ctx context.Context, cmd string, args, ret any) error {
	var out string
	switch cmd {
	case "query-cpus-fast":
		out = `[{"cpu-index":0,"qom-path":"/machine/unattached/device[0]"}]`
	case "qom-list":
		m.reads.Add(1)
		time.Sleep(m.delay)
		out = `[{"name":"lahf-lm","type":"bool"},{"name":"pdpe1gb","type":"bool"},{"name":"model-id","type":"string"}]`
	case "qom-get":
		b, _ := json.Marshal(args)
		var a qomArgs
		json.Unmarshal(b, &a)
		switch a.Property {
		case "lahf-lm":
			out = "true"
		case "unavailable-features":
			out = "[]"
		default:
			out = "false"
		}
	default:
		out = "{}"
	}
	return json.Unmarshal([]byte(out), ret)
}

type qomArgs struct {
	Property string `json:"property"`
}

func (m *countingMonitor) Close() error { return nil }

func TestGuestCPUKey(t *testing.T) {
	qc := &caps.Caps{Binary: "/usr/bin/qemu-system-x86_64", BinarySize: 1, BinaryCtime: 2, KernelVersion: "6.1", Version: 7002000}
	base := []string{"/usr/bin/qemu-system-x86_64", "-name", "guest=a,debug-threads=on", "-machine", "pc-q35-7.2", "-accel", "tcg",
		"-cpu", "qemu64", "-m", "32", "-smp", "1,sockets=1,cores=1,threads=1", "-uuid", "1"}
	other := append([]string(nil), base...)
	other[2], other[len(other)-1], other[10] = "guest=b,debug-threads=on", "2", "64"
	if guestCPUKey(qc, base) != guestCPUKey(qc, other) {
		t.Errorf("name, uuid and memory changed the key")
	}
	for _, change := range []struct{ i int }{{4}, {6}, {8}, {12}} {
		c := append([]string(nil), base...)
		c[change.i] += ",x=y"
		if guestCPUKey(qc, base) == guestCPUKey(qc, c) {
			t.Errorf("%s %s did not change the key", c[change.i-1], c[change.i])
		}
	}
	if guestCPUKey(qc, base) == guestCPUKey(qc, append(append([]string(nil), base...), "-global", "qemu64-x86_64-cpu.pdpe1gb=on")) {
		t.Errorf("-global did not change the key")
	}
	qc2 := *qc
	qc2.BinaryCtime++
	if guestCPUKey(qc, base) == guestCPUKey(&qc2, base) {
		t.Errorf("a changed binary did not change the key")
	}
}

// TestGuestCPUCacheOneRead: concurrent starts with one key read the
// vCPU once; another key reads again.
func TestGuestCPUCacheOneRead(t *testing.T) {
	var c guestCPUCache
	mon := &countingMonitor{delay: 50 * time.Millisecond}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			en, _, err := c.fetch(context.Background(), "k1", mon)
			if err != nil || en == nil {
				t.Errorf("fetch: %v, %v", en, err)
			}
		}()
	}
	wg.Wait()
	if n := mon.reads.Load(); n != 1 {
		t.Errorf("%d reads for one key, want 1", n)
	}
	if _, _, err := c.fetch(context.Background(), "k2", mon); err != nil {
		t.Fatal(err)
	}
	if n := mon.reads.Load(); n != 2 {
		t.Errorf("%d reads for two keys, want 2", n)
	}
}

// TestGuestCPUCacheOnDisk: a cache with a directory keeps what it read,
// and a new cache on the same directory (a restarted daemon) answers
// from it without reading; a file from another host CPU is ignored.
func TestGuestCPUCacheOnDisk(t *testing.T) {
	if hostCPUIdentity() == "" {
		t.Skip("no /proc/cpuinfo")
	}
	dir := t.TempDir()
	mon := &countingMonitor{}
	c1 := &guestCPUCache{dir: dir}
	en1, dis1, err := c1.fetch(context.Background(), "k1", mon)
	if err != nil || en1 == nil {
		t.Fatalf("fetch: %v, %v", en1, err)
	}
	c2 := &guestCPUCache{dir: dir}
	en2, dis2, err := c2.fetch(context.Background(), "k1", mon)
	if err != nil {
		t.Fatal(err)
	}
	if n := mon.reads.Load(); n != 1 {
		t.Fatalf("%d reads after a restart, want 1 (the first)", n)
	}
	if !reflect.DeepEqual(en1, en2) || !reflect.DeepEqual(dis1, dis2) {
		t.Errorf("from disk %+v %+v, read %+v %+v", en2, dis2, en1, dis1)
	}
	// Another host CPU (or microcode): the file is not used.
	path := filepath.Join(dir, guestCPUFile)
	data, _ := os.ReadFile(path)
	var f guestCPUFileData
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f.HostCPU += "microcode=other\n"
	data, _ = json.Marshal(f)
	os.WriteFile(path, data, 0o600)
	c3 := &guestCPUCache{dir: dir}
	if _, _, err := c3.fetch(context.Background(), "k1", mon); err != nil {
		t.Fatal(err)
	}
	if n := mon.reads.Load(); n != 2 {
		t.Errorf("%d reads with another host CPU's file, want 2", n)
	}
}
