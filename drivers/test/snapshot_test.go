package test

import (
	"strings"
	"testing"

	"govirt/driver"
	"govirt/virerr"
)

func TestSnapshots(t *testing.T) {
	c := openDefault(t)
	rec := record(t, c)
	d := mustDom(t, c, "test")
	s1, err := c.DomainSnapshotCreateXML(d, "<domainsnapshot><name>s1</name><description>hi</description></domainsnapshot>", 0)
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.DomainSnapshotGetXMLDesc(s1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<name>s1</name>\n  <description>hi</description>\n  <state>running</state>\n",
		"<memory snapshot='internal'/>\n  <disks>\n    <disk name='vda' snapshot='internal'/>\n  </disks>\n  <domain type='test'>\n    <name>test</name>"} {
		if !strings.Contains(x, s) {
			t.Fatalf("snapshot xml lacks %q:\n%s", s, x)
		}
	}
	s2, err := c.DomainSnapshotCreateXML(d, "<domainsnapshot/>", 0)
	if err != nil || s2.Name == "" {
		t.Fatalf("unnamed snapshot %+v %v", s2, err)
	}
	if par, _ := c.DomainSnapshotGetParent(s2, 0); par.Name != "s1" {
		t.Fatalf("parent %+v", par)
	}
	if cur, _ := c.DomainSnapshotIsCurrent(s2, 0); !cur {
		t.Fatal("newest snapshot not current")
	}
	if n, _ := c.DomainSnapshotNum(d, 0); n != 2 {
		t.Fatal(n)
	}
	if roots, _ := c.DomainListAllSnapshots(d, snapListRoots); len(roots) != 1 || roots[0].Name != "s1" {
		t.Fatalf("roots %+v", roots)
	}
	_, err = c.DomainSnapshotLookupByName(d, "x", 0)
	wantErr(t, err, virerr.ErrNoDomainSnapshot, virerr.FromTest, "Domain snapshot not found: no domain snapshot with matching name 'x'")

	// Take an inactive snapshot, then revert to the running one.
	c.DomainDestroy(d, 0)
	s3, _ := c.DomainSnapshotCreateXML(d, "<domainsnapshot><name>s3</name></domainsnapshot>", 0)
	if err := c.DomainRevertToSnapshot(s1, 0); err != nil {
		t.Fatal(err)
	}
	d = mustDom(t, c, "test")
	wantState(t, c, d, driver.StateRunning, driver.RunningFromSnapshot)
	if err := c.DomainRevertToSnapshot(s3, 0); err != nil {
		t.Fatal(err)
	}
	wantState(t, c, d, driver.StateShutoff, driver.ShutoffFromSnapshot)
	err = c.DomainUndefine(d, 0)
	wantErr(t, err, virerr.ErrOperationInvalid, virerr.FromTest, "Requested operation is not valid: cannot delete inactive domain with 3 snapshots")

	// Deleting s1 moves its child up.
	if err := c.DomainSnapshotDelete(s1, 0); err != nil {
		t.Fatal(err)
	}
	_, err = c.DomainSnapshotGetParent(s2, 0)
	wantErr(t, err, virerr.ErrNoDomainSnapshot, virerr.FromTest, "Domain snapshot not found: snapshot '"+s2.Name+"' does not have a parent")
	if err := c.DomainSnapshotDelete(s2, snapDeleteChildren); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.DomainSnapshotNum(d, 0); n != 0 {
		t.Fatalf("%d snapshots left", n)
	}

	want := []struct{ ev, detail int32 }{
		{driver.EventStopped, driver.EventStoppedDestroyed},
		{driver.EventStarted, driver.EventStartedFromSnapshot},
		{driver.EventStopped, driver.EventStoppedFromSnapshot},
	}
	evs := rec.wait(t, len(want))
	for i, w := range want {
		if e := evs[i].(driver.DomainEvent); e.Event != w.ev || e.Detail != w.detail {
			t.Fatalf("event %d: %+v, want %+v", i, e, w)
		}
	}
}

func TestSnapshotRedefine(t *testing.T) {
	c := openDefault(t)
	d := mustDom(t, c, "test")
	s1, _ := c.DomainSnapshotCreateXML(d, "<domainsnapshot><name>s1</name></domainsnapshot>", 0)
	x, _ := c.DomainSnapshotGetXMLDesc(s1, 0)
	if err := c.DomainSnapshotDelete(s1, 0); err != nil {
		t.Fatal(err)
	}
	s, err := c.DomainSnapshotCreateXML(d, x, driver.SnapCreateRedefine|driver.SnapCreateCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := c.DomainSnapshotCurrent(d, 0); cur.Name != "s1" || s.Name != "s1" {
		t.Fatalf("current %+v", cur)
	}
	if x2, _ := c.DomainSnapshotGetXMLDesc(s, 0); x2 != x {
		t.Fatalf("redefined snapshot differs:\n%s\n%s", x, x2)
	}
}
