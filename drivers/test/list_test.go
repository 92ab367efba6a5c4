package test

import (
	"testing"

	"govirt/driver"
)

// TestListSnapshot checks that listings answered from the snapshot follow
// every change, and are reused while nothing changes.
func TestListSnapshot(t *testing.T) {
	c := openDefault(t)
	list := func(flags uint32) []driver.Domain {
		t.Helper()
		l, err := c.ListAllDomains(flags)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	first := list(0)
	if len(first) != 1 || first[0].Name != "test" || first[0].ID != 1 {
		t.Fatalf("list %+v", first)
	}
	c.DomainGetInfo(first[0])
	if again := list(0); &again[0] != &first[0] {
		t.Fatal("unchanged listing rebuilt")
	}
	if err := c.DomainDestroy(first[0], 0); err != nil {
		t.Fatal(err)
	}
	if l := list(0); len(l) != 1 || l[0].ID != -1 {
		t.Fatalf("after destroy %+v", l)
	}
	if l := list(driver.ListActive); len(l) != 0 {
		t.Fatalf("active after destroy %+v", l)
	}
	nd, err := c.DomainDefineXML(demoXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l := list(driver.ListInactive); len(l) != 2 || l[0].Name != "demo" {
		t.Fatalf("inactive after define %+v", l)
	}
	if _, err := c.DomainCreate(nd, 0); err != nil {
		t.Fatal(err)
	}
	if l := list(driver.ListActive | driver.ListRunning); len(l) != 1 || l[0].Name != "demo" || l[0].ID < 0 {
		t.Fatalf("running after create %+v", l)
	}
}
