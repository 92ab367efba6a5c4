package qemu

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"govirt/conf"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// Snapshot lookups fail with libvirt's texts, the code's prefix once
// ("Domain snapshot not found: no domain snapshot with matching name 'x'").
func TestSnapshotNotFoundMessages(t *testing.T) {
	dir := t.TempDir()
	def := `<domain type='kvm'><name>snaperr</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>` +
		`<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`
	if err := os.MkdirAll(filepath.Join(dir, "state", "qemu"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state", "qemu", "snaperr.xml"), []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	d := New(Config{StateDir: filepath.Join(dir, "state"), RunDir: filepath.Join(dir, "run"), Emulator: filepath.Join(dir, "none")})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(d.uri)
	dc, err := d.Open(u, true)
	if err != nil {
		t.Fatal(err)
	}
	c := dc.(*conn)
	id, _ := uuid.Parse("6695eb01-f6a4-8304-79aa-97f2502e193f")
	dom := driver.Domain{Name: "snaperr", UUID: id}
	_, err = c.DomainSnapshotLookupByName(dom, "x", 0)
	want := "Domain snapshot not found: no domain snapshot with matching name 'x'"
	if e := virerr.From(err); e == nil || e.Code != virerr.ErrNoDomainSnapshot || e.Message != want {
		t.Errorf("lookup: %v, want %q", err, want)
	}
	_, err = c.DomainSnapshotCurrent(dom, 0)
	want = "Domain snapshot not found: the domain does not have a current snapshot"
	if e := virerr.From(err); e == nil || e.Message != want {
		t.Errorf("current: %v, want %q", err, want)
	}
}

func TestDomainTypeMessage(t *testing.T) {
	err := checkDomainType(&conf.Domain{Type: "test"})
	want := "unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not support virt type 'test'"
	if e := virerr.From(err); e == nil || e.Code != virerr.ErrConfigUnsupported || e.Message != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
