package qemu

import (
	"strings"
	"testing"

	"govirt/conf"
	"govirt/driver"
)

const alignDom = `<domain type='qemu'><name>a</name><memory>131072</memory>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
%s
</devices></domain>`

// TestAlignSnapshot checks libvirt 9.0's decisions for snapshots that are
// not --disk-only, and its errors, word for word.
func TestAlignSnapshot(t *testing.T) {
	cdrom := `<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>`
	raw := `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/i/b.img'/><target dev='vdb' bus='virtio'/></disk>`
	for _, tc := range []struct {
		name, extra, snap string
		st                driver.State
		want              string // state memory disks, or the error
	}{
		{"running default", cdrom, `<domainsnapshot/>`, driver.StateRunning, "running internal vda:internal sda:no"},
		{"shut off default", "", `<domainsnapshot/>`, driver.StateShutoff, "shutoff no vda:internal"},
		{"paused", "", `<domainsnapshot/>`, driver.StatePaused, "paused internal vda:internal"},
		{"running memory no", "", `<domainsnapshot><memory snapshot='no'/></domainsnapshot>`, driver.StateRunning,
			"internal snapshot of a running VM must include the memory state"},
		{"external disk", "", `<domainsnapshot><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>`, driver.StateRunning,
			"disk 'vda' must use snapshot mode 'internal'"},
		{"disk excluded", "", `<domainsnapshot><disks><disk name='vda' snapshot='no'/></disks></domainsnapshot>`, driver.StateShutoff,
			"disk 'vda' must use snapshot mode 'internal'"},
		{"raw disk", raw, `<domainsnapshot/>`, driver.StateRunning,
			"internal snapshot for disk vdb unsupported for storage type raw"},
		{"unknown disk", "", `<domainsnapshot><disks><disk name='vdz'/></disks></domainsnapshot>`, driver.StateRunning,
			"no disk named 'vdz'"},
		{"twice", cdrom, `<domainsnapshot><disks><disk name='vda'/><disk name='/i/a.qcow2'/></disks></domainsnapshot>`, driver.StateRunning,
			"disk '/i/a.qcow2' specified twice"},
		{"memory external", "", `<domainsnapshot><memory snapshot='external' file='/m'/></domainsnapshot>`, driver.StateRunning,
			"running external vda:external"},
		{"memory external, internal disk", "", `<domainsnapshot><memory snapshot='external' file='/m'/><disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>`, driver.StateRunning,
			"mixing internal and external targets for a snapshot is not yet supported"},
	} {
		def, err := conf.ParseDomain([]byte(strings.Replace(alignDom, "%s", tc.extra, 1)), 0)
		if err != nil {
			t.Fatal(err)
		}
		in, err := conf.ParseDomainSnapshot([]byte(tc.snap), 0)
		if err != nil {
			t.Fatal(err)
		}
		active := tc.st != driver.StateShutoff
		got := ""
		if err := checkSnapshotMemory(in, !active); err != nil {
			got = err.Error()
		} else if _, err := alignSnapshot(def, in, tc.st, active); err != nil {
			got = err.Error()
		} else if err := prepareInternal(def, in, active, nil); err != nil {
			got = err.Error()
		} else {
			got = in.State + " " + in.Memory
			sep := " "
			for _, sd := range in.Disks {
				got += sep + sd.Name + ":" + sd.Snapshot
				sep = " "
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSnapshotMemoryChecks: virDomainSnapshotDefParse's <memory> errors.
func TestSnapshotMemoryChecks(t *testing.T) {
	for _, tc := range []struct {
		xml     string
		offline bool
		want    string
	}{
		{`<domainsnapshot><memory snapshot='internal' file='/m'/></domainsnapshot>`, false, "memory filename '/m' requires external snapshot"},
		{`<domainsnapshot><memory snapshot='external'/></domainsnapshot>`, false, "external memory snapshots require a filename"},
		{`<domainsnapshot><memory file='/m'/></domainsnapshot>`, true, "memory state cannot be saved with offline or disk-only snapshot"},
		{`<domainsnapshot><memory file='m'/></domainsnapshot>`, false, "memory snapshot file path (m) must be absolute"},
		{`<domainsnapshot><memory snapshot='manual'/></domainsnapshot>`, false, "'manual' memory snapshot mode not supported"},
	} {
		in, err := conf.ParseDomainSnapshot([]byte(tc.xml), 0)
		if err != nil {
			t.Fatal(err)
		}
		err = checkSnapshotMemory(in, tc.offline)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.xml, err, tc.want)
		}
	}
}
