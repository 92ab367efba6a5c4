package test

import (
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"govirt/driver"
	"govirt/virerr"
)

func openURI(t testing.TB, d driver.Driver, uri string) *conn {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Open(u, false)
	if err != nil {
		t.Fatalf("open %s: %v", uri, err)
	}
	if c == nil {
		t.Fatalf("open %s: not claimed", uri)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

func openDefault(t *testing.T) *conn { return openURI(t, New(), "test:///default") }

func mustDom(t *testing.T, c *conn, name string) driver.Domain {
	t.Helper()
	d, err := c.LookupDomainByName(name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	return d
}

// wantErr checks a libvirt error's code, domain and message.
func wantErr(t *testing.T, err error, code virerr.Code, dom virerr.Domain, msg string) {
	t.Helper()
	var e *virerr.Error
	if !errors.As(err, &e) {
		t.Fatalf("want error %d %q, got %v", code, msg, err)
	}
	if e.Code != code || e.Domain != dom || e.Message != msg {
		t.Fatalf("want (%d, %d, %q), got (%d, %d, %q)", code, dom, msg, e.Code, e.Domain, e.Message)
	}
}

func wantState(t *testing.T, c *conn, d driver.Domain, st driver.State, reason int32) {
	t.Helper()
	s, r, err := c.DomainGetState(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s != st || r != reason {
		t.Fatalf("%s: state (%d, %d), want (%d, %d)", d.Name, s, r, st, reason)
	}
}

// recorder collects events from a bus in order.
type recorder struct {
	mu  sync.Mutex
	evs []any
}

func record(t *testing.T, c *conn) *recorder {
	r := &recorder{}
	sub := c.Events().Subscribe(func(ev any) {
		r.mu.Lock()
		r.evs = append(r.evs, ev)
		r.mu.Unlock()
	})
	t.Cleanup(sub.Close)
	return r
}

// wait returns the first n events, failing after a second.
func (r *recorder) wait(t *testing.T, n int) []any {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		r.mu.Lock()
		if len(r.evs) >= n {
			out := append([]any(nil), r.evs...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d", len(r.evs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

const demoXML = `<domain type='test'>
  <name>demo</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/demo.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <source network='default'/>
    </interface>
  </devices>
</domain>`
