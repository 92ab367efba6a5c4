package qemu

import (
	"strings"
	"testing"

	"govirt/driver"
)

// The peer a cookie names reaches the migration's status on the other
// side, and only from a cookie of this host (a unix socket elsewhere means
// nothing here).
func TestMigratePeerFromCookie(t *testing.T) {
	var d *Driver
	var v *vm
	mon := migrationMon(&d, &v, "completed")
	d, v, _ = runningVM(t, mon, "")
	d.cfg.PeerSocket = "/run/peer dir/sock-ro"
	c := &conn{d: d}
	h := v.handle()
	_, cookie, err := c.DomainMigrateBegin3(h, nil, migrateLive)
	if err != nil {
		t.Fatal(err)
	}
	want := "qemu+unix:///" + strings.TrimPrefix(d.uri, "qemu:///") + "?socket=%2Frun%2Fpeer+dir%2Fsock-ro"
	if got := cookiePeer(cookie); got != want {
		t.Fatalf("cookie peer %q, want %q (cookie %s)", got, want, cookie)
	}
	if got := cookiePeer([]byte(strings.Replace(string(cookie), "<hostname>", "<hostname>elsewhere.", 1))); got != "" {
		t.Errorf("peer %q taken from another host's cookie", got)
	}
	params := []driver.TypedParam{{Field: migParamURI, Value: "tcp:127.0.0.1:49152"}}
	if _, err := c.DomainMigratePerform3(h, "", params, cookie, migrateLive); err != nil {
		t.Fatal(err)
	}
	for _, st := range d.readStatuses() {
		if st.Migration == nil || st.Migration.Phase != phasePerformed || st.Migration.Peer != want {
			t.Errorf("status migration %+v, want phase %s and peer %s", st.Migration, phasePerformed, want)
		}
	}
	if err := c.DomainMigrateConfirm3(h, nil, nil, migrateLive, false); err != nil {
		t.Fatal(err)
	}
}
