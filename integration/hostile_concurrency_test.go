package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/client"
	"govirt/rpc/procs"
	"govirt/uuid"
	"govirt/virerr"
)

// wireDomain is remote_nonnull_domain.
type wireDomain struct {
	Name string
	UUID [16]byte
	ID   int32
}

// TestConcurrentDefineUndefineStart drives the QEMU driver from many Go
// clients at once on the same three guests: define, undefine, start,
// dumpxml (live and inactive) and dominfo. A guest undefined between a
// call's lookup and its work once made START, GET_XML_DESC and GET_INFO
// panic (recovered by the server, logged as "handler panic"). Every call
// must now get a reply or a libvirt error, none may panic, and the daemon
// keeps serving. Starts fail fast: the guests' emulator does not exist.
func TestConcurrentDefineUndefineStart(t *testing.T) {
	d := startDaemon(t)
	names := []string{"c0", "c1", "c2"}
	ids := make([]uuid.UUID, len(names))
	docs := make([]string, len(names))
	for i, n := range names {
		ids[i] = uuid.New()
		docs[i] = fmt.Sprintf("<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><devices><emulator>%s/no-such-qemu</emulator></devices></domain>",
			n, ids[i], d.dir)
	}
	ctx := context.Background()
	deadline := time.Now().Add(8 * time.Second)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		c := dialQEMU(t, d, false)
		wg.Add(1)
		go func(w int, c *client.Client) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				k := (w + i) % len(names)
				dom := wireDomain{Name: names[k], UUID: ids[k], ID: -1}
				var op string
				var err error
				switch (w*3 + i) % 7 {
				case 0, 1:
					op = "define"
					var ret struct{ Dom wireDomain }
					err = c.Call(ctx, procs.DomainDefineXML, &struct{ XML string }{docs[k]}, &ret)
				case 2:
					op = "undefine"
					err = c.Call(ctx, procs.DomainUndefine, &struct{ Dom wireDomain }{dom}, nil)
				case 3:
					op = "start"
					var ret struct{ Dom wireDomain }
					err = c.Call(ctx, procs.DomainCreateWithFlags, &struct {
						Dom   wireDomain
						Flags uint32
					}{dom, 0}, &ret)
				case 4, 5:
					op = "dumpxml"
					var ret struct{ XML string }
					err = c.Call(ctx, procs.DomainGetXMLDesc, &struct {
						Dom   wireDomain
						Flags uint32
					}{dom, uint32(i%2) * 2}, &ret)
				case 6:
					op = "dominfo"
					var ret struct {
						State     uint8
						MaxMem    uint64
						Memory    uint64
						NrVirtCPU uint16
						CPUTime   uint64
					}
					err = c.Call(ctx, procs.DomainGetInfo, &struct{ Dom wireDomain }{dom}, &ret)
				}
				var ve *virerr.Error
				if err != nil && !errors.As(err, &ve) {
					t.Errorf("%s: %v is not a libvirt error", op, err)
					return
				}
				if ve != nil && strings.Contains(ve.Message, "handler failed") {
					t.Errorf("%s: %v", op, err)
				}
				mu.Lock()
				if err != nil {
					op += " failed"
				}
				counts[op]++
				mu.Unlock()
			}
		}(w, c)
	}
	wg.Wait()
	t.Logf("calls: %v", counts)
	if strings.Contains(d.Log(), "panic") {
		t.Errorf("handler panics:\n%s", d.Log())
	}
	if out, _, rc := virsh(t, d.URI("qemu"), "list --all --name"); rc != 0 {
		t.Errorf("daemon stopped serving: %q", out)
	}
}

// TestCreateOfDefinedGuest: virsh create with the XML of a defined,
// inactive guest runs that guest with the given definition, and the guest
// stays defined when it stops (libvirt's virDomainObjListAdd with LIVE);
// it used to replace the defined guest by a transient one.
func TestCreateOfDefinedGuest(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	p := writeDoc(t, dir, "g.xml", testGuestXML(t, "g", "<uuid>6b2bd1e3-4a87-4a8a-9a55-3b4c7d2e1f00</uuid>", ""))
	mustVirsh(t, uri, "define "+p)
	mustVirsh(t, uri, "create "+p)
	if out := mustVirsh(t, uri, "dominfo g"); !strings.Contains(out, "running") || !strings.Contains(out, "Persistent:     yes") {
		t.Errorf("dominfo after create:\n%s", out)
	}
	mustVirsh(t, uri, "destroy g")
	if out := mustVirsh(t, uri, "list --all --name"); !strings.Contains(out, "g\n") {
		t.Errorf("defined guest gone after destroy: %q", out)
	}
}
