package qemu

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/virerr"
)

// chainOf builds a file chain from the top down, ended by <backingStore/>.
func chainOf(paths ...string) conf.DiskSource {
	end := &conf.DiskSource{}
	next := end
	for i := len(paths) - 1; i > 0; i-- {
		next = &conf.DiskSource{Type: "file", Path: paths[i], Format: "qcow2", Backing: next}
	}
	return conf.DiskSource{Type: "file", Path: paths[0], Format: "qcow2", Backing: next}
}

func domWith(src conf.DiskSource) *conf.Domain {
	def := &conf.Domain{Name: "g"}
	def.Devices.Disks = []*conf.Disk{{Device: "disk", TargetDev: "vda", Source: src}}
	return def
}

// extSnap is a disk-only snapshot of vda to overlay, taken when vda was
// the chain 'then'.
func extSnap(name, parent, overlay string, then ...string) *conf.DomainSnapshot {
	return &conf.DomainSnapshot{Name: name, Parent: parent, State: "disk-snapshot", Memory: "no",
		Disks:  []conf.SnapshotDisk{{Name: "vda", Snapshot: "external", Type: "file", DriverType: "qcow2", SourceFile: overlay}},
		Domain: domWith(chainOf(then...))}
}

func snapSetOf(snaps ...*conf.DomainSnapshot) *snapSet {
	set := &snapSet{byName: map[string]*conf.DomainSnapshot{}}
	for _, s := range snaps {
		set.byName[s.Name] = s
	}
	return set
}

func wantErrCode(t *testing.T, err error, code virerr.Code, msg string) {
	t.Helper()
	var e *virerr.Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Error(), msg) {
		t.Errorf("error %v, want code %d with %q", err, code, msg)
	}
}

// TestDiscardMetaReparents: deleting s1 of s1 <- s2 <- s3 moves s2 to
// the root and takes s1's overlay out of every later domain definition,
// as libvirt's qemuSnapshotDiscardMetadata; deleting the current one
// makes its parent current.
func TestDiscardMetaReparents(t *testing.T) {
	d := &Driver{dirs: dirs{defs: t.TempDir()}, log: slog.Default()}
	set := snapSetOf(
		extSnap("s1", "", "/i/mid", "/i/base"),
		extSnap("s2", "s1", "/i/top", "/i/mid", "/i/base"),
		extSnap("s3", "s2", "/i/t3", "/i/top", "/i/mid", "/i/base"),
	)
	set.current = "s3"
	for _, s := range set.byName {
		if err := d.saveSnap("g", s); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.discardMeta("g", set, set.byName["s1"]); err != nil {
		t.Fatal(err)
	}
	got := d.loadSnaps("g")
	if len(got.byName) != 2 || got.byName["s2"].Parent != "" || got.byName["s3"].Parent != "s2" {
		t.Fatalf("after deleting s1: %+v", got.byName)
	}
	if p := paths(got.byName["s2"].Domain.Devices.Disks[0]); strings.Join(p, " ") != "/i/base" {
		t.Errorf("s2's domain: %v", p)
	}
	if p := paths(got.byName["s3"].Domain.Devices.Disks[0]); strings.Join(p, " ") != "/i/top /i/base" {
		t.Errorf("s3's domain: %v", p)
	}
	if err := d.setCurrentSnap("g", "s3"); err != nil {
		t.Fatal(err)
	}
	got = d.loadSnaps("g")
	if err := d.discardMeta("g", got, got.byName["s3"]); err != nil {
		t.Fatal(err)
	}
	if got = d.loadSnaps("g"); got.current != "s2" || len(got.byName) != 1 {
		t.Errorf("after deleting current s3: current %q, %d left", got.current, len(got.byName))
	}
}

// TestPrepareExternalDelete covers qemuSnapshotDeleteExternalPrepare's
// refusals and what it finds.
func TestPrepareExternalDelete(t *testing.T) {
	s1 := extSnap("s1", "", "/i/mid", "/i/base")
	s2 := extSnap("s2", "s1", "/i/top", "/i/mid", "/i/base")
	set := snapSetOf(s1, s2)
	live := domWith(chainOf("/i/top", "/i/mid", "/i/base"))

	work, err := prepareExternalDelete(live, set, s1, true)
	if err != nil || len(work) != 1 {
		t.Fatalf("s1: %v %v", work, err)
	}
	if m := work[0]; m.top.Path != "/i/mid" || m.prev.Path != "/i/top" || m.base.Path != "/i/base" || m.parentSnap != "" {
		t.Errorf("s1 merge %+v", m)
	}
	work, err = prepareExternalDelete(live, set, s2, true)
	if err != nil || work[0].prev != nil || work[0].parentSnap != "s1" {
		t.Fatalf("s2: %+v %v", work, err)
	}
	// A shut-off guest's definition spells only the top.
	cfg := domWith(conf.DiskSource{Type: "file", Path: "/i/top", Format: "qcow2"})
	if work, err = prepareExternalDelete(cfg, set, s2, false); err != nil || work[0].base != nil {
		t.Errorf("inactive s2: %+v %v", work, err)
	}
	_, err = prepareExternalDelete(cfg, set, s1, false)
	wantErrCode(t, err, virerr.ErrInvalidArg, "could not find base disk source in disk source chain")

	other := domWith(chainOf("/i/top", "/i/other", "/i/base"))
	_, err = prepareExternalDelete(other, set, s2, true)
	wantErrCode(t, err, virerr.ErrOperationFailed, "snapshot VM disk source and parent disk source are not the same")
	_, err = prepareExternalDelete(domWith(conf.DiskSource{Type: "file", Path: "/i/top"}), set, s2, true)
	wantErrCode(t, err, virerr.ErrOperationFailed, "failed to find parent disk source in backing chain")

	noDisk := extSnap("s2", "s1", "/i/top", "/i/mid")
	noDisk.Domain.Devices.Disks[0].TargetDev = "vdb"
	_, err = prepareExternalDelete(live, snapSetOf(s1, noDisk), noDisk, true)
	wantErrCode(t, err, virerr.ErrOperationFailed, "failed to find disk 'vda' in snapshot VM XML")

	vdb := extSnap("s2", "s1", "/i/top", "/i/mid")
	vdb.Disks[0].Name = "vdb"
	_, err = prepareExternalDelete(live, snapSetOf(s1, vdb), vdb, true)
	wantErrCode(t, err, virerr.ErrInvalidArg, "disk 'vdb' not found in domain")

	marked := extSnap("s1", "", "/i/mid", "/i/base")
	marked.Disks[0].DeleteInProgress = true
	_, err = prepareExternalDelete(live, snapSetOf(marked, s2), marked, true)
	wantErrCode(t, err, virerr.ErrOperationInvalid, "snapshot disk 'vda' was target of not completed snapshot delete")

	internal := &conf.DomainSnapshot{Name: "s1", State: "running", Memory: "internal",
		Disks: []conf.SnapshotDisk{{Name: "vda", Snapshot: "internal"}}, Domain: domWith(chainOf("/i/mid", "/i/base"))}
	_, err = prepareExternalDelete(live, snapSetOf(internal, s2), s2, true)
	wantErrCode(t, err, virerr.ErrOperationUnsupported, "deleting external snapshot that has internal snapshot as parent not supported")

	// A snapshot that skipped the disk does not count as its parent.
	skip := &conf.DomainSnapshot{Name: "s15", Parent: "s1", Disks: []conf.SnapshotDisk{{Name: "vda", Snapshot: "no"}}}
	s2b := extSnap("s2", "s15", "/i/top", "/i/mid", "/i/base")
	if work, err = prepareExternalDelete(live, snapSetOf(s1, skip, s2b), s2b, true); err != nil || work[0].parentSnap != "s1" {
		t.Errorf("parent past a skipping snapshot: %+v %v", work, err)
	}
}

// TestValidateSnapshotDelete covers qemuSnapshotDeleteValidate.
func TestValidateSnapshotDelete(t *testing.T) {
	_, v, _ := runningVM(t, &fakeMonitor{}, "")
	s1 := extSnap("s1", "", "/i/mid", "/i/base")
	s2 := extSnap("s2", "s1", "/i/top", "/i/mid", "/i/base")
	set := snapSetOf(s1, s2)
	live := domWith(chainOf("/i/top", "/i/mid", "/i/base"))
	wantErrCode(t, validateSnapshotDelete(v, live, set, s1, snapDeleteChildOnly, true),
		virerr.ErrConfigUnsupported, "deletion of external children disk snapshots not supported")
	wantErrCode(t, validateSnapshotDelete(v, live, set, s2, snapDeleteChildren, true),
		virerr.ErrConfigUnsupported, "deletion of external disk snapshots with children not supported")
	if err := validateSnapshotDelete(v, live, set, s2, snapDeleteChildOnly, true); err != nil {
		t.Errorf("--children-only of a leaf: %v", err)
	}
	internal := &conf.DomainSnapshot{Name: "i", Parent: "s1", Memory: "internal", Disks: []conf.SnapshotDisk{{Name: "vda", Snapshot: "internal"}},
		Domain: domWith(chainOf("/i/other"))}
	set.byName["i"] = internal
	wantErrCode(t, validateSnapshotDelete(v, live, set, s1, snapDeleteChildOnly, true),
		virerr.ErrConfigUnsupported, "deletion of external and internal children disk snapshots not supported")
	wantErrCode(t, validateSnapshotDelete(v, live, set, internal, 0, true),
		virerr.ErrOperationUnsupported, "disk image 'vda' for internal snapshot 'i' is not the same as disk image currently used by VM")
	v.mu.Lock()
	blockOf(v).Jobs["vda"] = newBlockJob("j", "vda", 0)
	v.mu.Unlock()
	wantErrCode(t, validateSnapshotDelete(v, live, set, s2, 0, true),
		virerr.ErrOperationUnsupported, "cannot delete external snapshots when there is another active block job")
}

// TestOverlayTargetChecks: libvirt's checks of an overlay path.
func TestOverlayTargetChecks(t *testing.T) {
	dir := t.TempDir()
	empty, full := filepath.Join(dir, "empty"), filepath.Join(dir, "full")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(full, []byte("x"), 0o600)
	if err := checkOverlayTarget("vda", empty, "file", false); err != nil {
		t.Errorf("empty file: %v", err)
	}
	wantErrCode(t, checkOverlayTarget("vda", full, "file", false), virerr.ErrConfigUnsupported,
		"external snapshot file for disk vda already exists and is not a block device: "+full)
	if err := checkOverlayTarget("vda", full, "file", true); err != nil {
		t.Errorf("reused file: %v", err)
	}
	wantErrCode(t, checkOverlayTarget("vda", dir+"/none", "file", true), virerr.ErrSystemError, "missing existing file for disk vda")
	wantErrCode(t, checkOverlayTarget("vda", dir+"/none", "block", false), virerr.ErrOperationUnsupported, "block device snapshot target")
	wantErrCode(t, checkOverlayTarget("vda", full, "block", true), virerr.ErrConfigUnsupported, "mismatch between configured type")
}
