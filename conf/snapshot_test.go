package conf

import (
	"strings"
	"testing"
)

// TestSnapshotDiskDeleteMarker: <snapshotDeleteInProgress/> is read,
// written first in the disk as libvirt does, and removed when cleared; a
// block overlay is a source dev.
func TestSnapshotDiskDeleteMarker(t *testing.T) {
	in := `<domainsnapshot><name>s1</name><creationTime>1</creationTime><disks>
<disk name='vda' snapshot='external' type='file'><snapshotDeleteInProgress/><driver type='qcow2'/><source file='/a.s1'/></disk>
<disk name='vdb' snapshot='external' type='block'><driver type='qcow2'/><source dev='/dev/sdz'/></disk>
</disks></domainsnapshot>`
	s, err := ParseDomainSnapshot([]byte(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Disks[0].DeleteInProgress || s.Disks[1].DeleteInProgress || s.Disks[1].SourceFile != "/dev/sdz" {
		t.Fatalf("parsed %+v", s.Disks)
	}
	s.Disks[0].DeleteInProgress = false
	s.Disks[1].DeleteInProgress = true
	out, err := s.Format(0)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	if strings.Count(got, "snapshotDeleteInProgress") != 1 ||
		!strings.Contains(got, "<disk name='vdb' snapshot='external' type='block'>\n      <snapshotDeleteInProgress/>\n      <driver type='qcow2'/>\n      <source dev='/dev/sdz'/>") {
		t.Fatalf("formatted:\n%s", got)
	}
}
