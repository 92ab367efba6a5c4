package qemu

import (
	"testing"

	"govirt/conf"
	"govirt/driver"
)

// chainDisk is vda: /top(3) <- /mid(2) <- /base(1).
func chainDisk() *conf.Disk {
	base := &conf.DiskSource{Type: "file", Path: "/base", Format: "qcow2", Index: 1, Backing: &conf.DiskSource{}}
	mid := &conf.DiskSource{Type: "file", Path: "/mid", Format: "qcow2", Index: 2, Backing: base}
	return &conf.Disk{TargetDev: "vda", Source: conf.DiskSource{Type: "file", Path: "/top", Format: "qcow2", Index: 3, Backing: mid}}
}

func paths(d *conf.Disk) (out []string) {
	for _, l := range layersOf(&d.Source) {
		out = append(out, l.Path)
	}
	return out
}

func TestChainLookup(t *testing.T) {
	d := chainDisk()
	def := &conf.Domain{}
	def.Devices.Disks = []*conf.Disk{d}
	for arg, want := range map[string]string{"vda": "/top", "vda[3]": "/top", "vda[2]": "/mid", "vda[1]": "/base", "/mid": "/mid"} {
		_, l, err := findDisk(def, arg, errDiskNotFound)
		if err != nil || l.Path != want {
			t.Errorf("%s: %v %v, want %s", arg, l, err, want)
		}
	}
	if _, _, err := findDisk(def, "vda[7]", errDiskNotFound); err == nil {
		t.Error("vda[7] resolved")
	}
	if _, _, err := findDisk(def, "vdb", errDiskNotFound); err == nil {
		t.Error("vdb resolved")
	}
	top, _ := chainLookup(d, "vda[2]", nil)
	if _, err := chainLookup(d, "vda[3]", top); err == nil {
		t.Error("base above top accepted")
	}
	if _, err := chainLookup(d, "vdb[1]", nil); err == nil {
		t.Error("other target accepted")
	}
}

// After any job, every image that stays answers to its own index; the
// top never stands in for another (libvirt's old vda[1]-after-pivot bug).
func TestJobOutcomeKeepsIndexes(t *testing.T) {
	d := chainDisk()
	j := &blockJob{Type: driver.BlockJobTypeActiveCommit, State: jobPivoting, TopIndex: 3, BaseIndex: 1}
	res := applyJobOutcome(d, j, driver.BlockJobCompleted)
	if got := paths(d); len(got) != 1 || got[0] != "/base" || d.Source.Index != 1 {
		t.Fatalf("after active commit: %v index %d", got, d.Source.Index)
	}
	if len(res.unplug) != 2 || res.unplug[0].Path != "/top" || res.unplug[1].Path != "/mid" {
		t.Errorf("unplug %+v", res.unplug)
	}
	if layerByIndex(d, 3) != nil || layerByIndex(d, 2) != nil || layerByIndex(d, 1).Path != "/base" {
		t.Error("stale index resolves")
	}

	d = chainDisk()
	j = &blockJob{Type: driver.BlockJobTypeCommit, TopIndex: 2, BaseIndex: 1}
	applyJobOutcome(d, j, driver.BlockJobCompleted)
	if got := paths(d); len(got) != 2 || got[1] != "/base" || layerByIndex(d, 1).Path != "/base" || layerByIndex(d, 3).Path != "/top" {
		t.Errorf("after commit: %v", got)
	}

	d = chainDisk()
	d.Mirror = &conf.DiskMirror{Source: conf.DiskSource{Type: "file", Path: "/copy", Format: "qcow2", Index: 4, Backing: &conf.DiskSource{}}}
	j = &blockJob{Type: driver.BlockJobTypeCopy, State: jobPivoting}
	applyJobOutcome(d, j, driver.BlockJobCompleted)
	if got := paths(d); len(got) != 1 || got[0] != "/copy" || layerByIndex(d, 4) == nil || layerByIndex(d, 1) != nil {
		t.Errorf("after copy pivot: %v", got)
	}

	d = chainDisk()
	j = &blockJob{Type: driver.BlockJobTypePull, BaseIndex: 1}
	applyJobOutcome(d, j, driver.BlockJobCompleted)
	if got := paths(d); len(got) != 2 || got[1] != "/base" {
		t.Errorf("after pull: %v", got)
	}

	// Failed or cancelled jobs change nothing.
	d = chainDisk()
	applyJobOutcome(d, &blockJob{Type: driver.BlockJobTypeCommit, TopIndex: 2, BaseIndex: 1}, driver.BlockJobFailed)
	if len(paths(d)) != 3 {
		t.Error("failed commit changed the chain")
	}
}
