package qemu

import (
	"context"
	"strings"
	"testing"

	"govirt/driver"
	"govirt/virerr"
)

// An offline migration moves the definition only: the destination
// defines the guest without starting it, the running source keeps its
// guest (--undefinesource only undefines a guest that does not run).
func TestMigrateOffline(t *testing.T) {
	d, v, _ := runningVM(t, &fakeMonitor{}, "")
	c := &conn{d: d}
	h := v.handle()
	flags := uint32(migrateOffline | migratePersistDest | migrateUndefineSource)
	for f, want := range map[uint32]string{
		migrateOffline: "must be specified with the persistent flag set",
		migrateOffline | migratePersistDest | migrateTunnelled:     "tunnelled offline migration does not make sense",
		migrateOffline | migratePersistDest | migrateNonSharedDisk: "offline migration cannot handle non-shared storage",
	} {
		if _, _, err := c.DomainMigrateBegin3(h, nil, f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("flags %#x: %v, want %q", f, err, want)
		}
	}
	xml, cookie, err := c.DomainMigrateBegin3(h, nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d2 := New(Config{StateDir: dir + "/state", RunDir: dir + "/run"})
	if err := d2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := &conn{d: d2}
	params := []driver.TypedParam{{Field: migParamDestXML, Value: xml}}
	cookie2, uri, err := c2.DomainMigratePrepare3(params, cookie, flags)
	if err != nil || uri == "" {
		t.Fatalf("prepare: %q %v", uri, err)
	}
	v2 := d2.doms.byNameLookup("ev")
	if v2 == nil || v2.active() {
		t.Fatalf("destination guest after prepare: %v", v2)
	}
	params = append(params, driver.TypedParam{Field: migParamDestName, Value: "ev"})
	dom, _, err := c2.DomainMigrateFinish3(params, cookie2, flags, false)
	if err != nil || dom.Name != "ev" {
		t.Fatalf("finish: %+v %v", dom, err)
	}
	if !v2.persistent || v2.active() || jobHeld(v2) {
		t.Errorf("destination guest: persistent %v active %v job %v", v2.persistent, v2.active(), jobHeld(v2))
	}
	if err := c.DomainMigrateConfirm3(h, nil, nil, flags, false); err != nil {
		t.Fatal(err)
	}
	if !v.active() || !v.persistent || jobHeld(v) {
		t.Errorf("source guest: active %v persistent %v job %v", v.active(), v.persistent, jobHeld(v))
	}
	// Cancelled: the destination keeps what it had (the guest defined
	// by the first migration), the source its guest.
	xml, cookie, err = c.DomainMigrateBegin3(h, nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	params = []driver.TypedParam{{Field: migParamDestXML, Value: xml}, {Field: migParamDestName, Value: "ev"}}
	if cookie2, _, err = c2.DomainMigratePrepare3(params, cookie, flags); err != nil {
		t.Fatalf("prepare over the defined guest: %v", err)
	}
	if _, _, err := c2.DomainMigrateFinish3(params, cookie2, flags, true); virerr.CodeOf(err) != virerr.ErrMigrateFinishOk {
		t.Errorf("cancelled finish: %v", err)
	}
	if d2.doms.byNameLookup("ev") == nil || jobHeld(v2) {
		t.Error("cancelled offline migration dropped the destination's guest or kept its job")
	}
	_ = c.DomainMigrateConfirm3(h, nil, nil, flags, true)
	if jobHeld(v) {
		t.Error("cancelled offline migration kept the source's job")
	}
}
