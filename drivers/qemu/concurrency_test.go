package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// TestConcurrentDefineUndefineReads races define, undefine, start,
// dumpxml, dominfo and the other cached reads on the same few guests, as
// many clients would. Each call must succeed or fail with a libvirt error;
// a panic (a nil definition read after a concurrent undefine removed the
// guest) fails the test. Start fails fast here (no emulator), which is the
// path the race hit: the guest is gone by the time its job is acquired.
func TestConcurrentDefineUndefineReads(t *testing.T) {
	dir := t.TempDir()
	d := New(Config{StateDir: dir + "/state", RunDir: dir + "/run", Emulator: dir + "/no-such-qemu"})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &conn{d: d}
	names := []string{"s0", "s1", "s2"}
	uuids := make([]uuid.UUID, len(names))
	docs := make([]string, len(names))
	for i, n := range names {
		uuids[i] = uuid.New()
		docs[i] = fmt.Sprintf("<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>", n, uuids[i])
	}
	var panics atomic.Int32
	var calls atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	if testing.Short() {
		deadline = time.Now().Add(time.Second)
	}
	call := func(what string, fn func() error) {
		defer func() {
			if p := recover(); p != nil {
				if panics.Add(1) <= 3 {
					t.Errorf("%s panicked: %v\n%s", what, p, debug.Stack())
				}
			}
		}()
		calls.Add(1)
		err := fn()
		var ve *virerr.Error
		if err != nil && !errors.As(err, &ve) {
			t.Errorf("%s: %v is not a libvirt error", what, err)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				k := (w + i) % len(names)
				h := driver.Domain{Name: names[k], UUID: uuids[k], ID: -1}
				switch (w + i) % 9 {
				case 0, 1:
					call("define", func() error { _, err := c.DomainDefineXML(docs[k], 0); return err })
				case 2:
					call("undefine", func() error { return c.DomainUndefine(h, 0) })
				case 3:
					call("start", func() error { _, err := c.DomainCreate(h, 0); return err })
				case 4:
					call("dumpxml", func() error { _, err := c.DomainGetXMLDesc(h, 0); return err })
				case 5:
					call("dumpxml --inactive", func() error { _, err := c.DomainGetXMLDesc(h, xmlInactive); return err })
				case 6:
					call("dominfo", func() error { _, err := c.DomainGetInfo(h); return err })
				case 8:
					call("create", func() error { _, err := c.DomainCreateXML(docs[k], 0); return err })
				case 7:
					call("reads", func() error {
						if _, err := c.DomainGetOSType(h); err != nil {
							return err
						}
						if _, err := c.DomainGetMaxMemory(h); err != nil {
							return err
						}
						_, _, err := c.DomainGetState(h, 0)
						return err
					})
				}
			}
		}(w)
	}
	wg.Wait()
	if n := panics.Load(); n > 0 {
		t.Fatalf("%d of %d calls panicked", n, calls.Load())
	}
	t.Logf("%d calls", calls.Load())
	// What is defined and what is on disk agree after the storm.
	for _, n := range names {
		v := d.doms.byNameLookup(n)
		defined := false
		if v != nil {
			v.mu.Lock()
			defined = v.persistent && !v.removed.Load()
			v.mu.Unlock()
		}
		path, _ := d.defPath(n)
		_, err := os.Stat(path)
		if defined != (err == nil) {
			t.Errorf("%s: defined %v, definition file present %v", n, defined, err == nil)
		}
	}
}
