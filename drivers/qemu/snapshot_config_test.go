package qemu

import (
	"strings"
	"testing"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// spelled is a chain as a persistent definition writes it: no
// terminator, so a start detects the rest.
func spelled(paths ...string) conf.DiskSource {
	src := chainOf(paths...)
	for l := &src; l.Backing != nil; l = l.Backing {
		if l.Backing.Type == "" {
			l.Backing = nil
			break
		}
	}
	return src
}

func cfgPaths(v *vm) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for l := &v.def.Devices.Disks[0].Source; l != nil && l.Type != ""; l = l.Backing {
		out = append(out, l.Path)
	}
	return strings.Join(out, " ")
}

// TestMergeConfig: after an offline merge the persistent definition
// changes as after libvirt's block commit completion.
func TestMergeConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   conf.DiskSource
		inner bool
		want  string
	}{
		{"top, chain spelled", spelled("/top", "/mid", "/base"), false, "/mid /base"},
		{"top alone", spelled("/top"), false, "/mid"},
		{"inner, chain spelled", spelled("/top", "/mid", "/base"), true, "/top /base"},
		{"inner, chain spelled short", spelled("/top", "/mid"), true, "/top"},
	} {
		d, v, _ := runningVM(t, &fakeMonitor{}, "")
		v.mu.Lock()
		v.def = domWith(tc.cfg)
		v.def.Name = v.name
		v.mu.Unlock()
		live := domWith(chainOf("/top", "/mid", "/base")).Devices.Disks[0]
		m := &diskMerge{target: "vda", top: &live.Source, base: live.Source.Backing}
		if tc.inner {
			m = &diskMerge{target: "vda", top: live.Source.Backing, prev: &live.Source, base: live.Source.Backing.Backing}
		}
		if err := d.mergeConfig(v, live, m); err != nil {
			t.Fatal(err)
		}
		if got := cfgPaths(v); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestOverlayConfig: a running guest's snapshot keeps the old source
// below the overlay in the definition; a shut-off guest's keeps it only
// when its chain was spelled out; a definition that moved on is left.
func TestOverlayConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  conf.DiskSource
		keep bool
		want string
	}{
		{spelled("/base"), true, "/ov /base"},
		{spelled("/base"), false, "/ov"},
		{spelled("/other"), true, "/other"},
	} {
		d, v, _ := runningVM(t, &fakeMonitor{}, "")
		v.mu.Lock()
		v.def = domWith(tc.cfg)
		v.def.Name = v.name
		v.mu.Unlock()
		p := &overlayPlan{target: "vda", oldTop: conf.DiskSource{Type: "file", Path: "/base", Index: 1},
			overlay: conf.DiskSource{Type: "file", Path: "/ov", Format: "qcow2", Index: 2, NodeName: "libvirt-2-storage"}}
		if err := d.overlayConfig(v, p, tc.keep); err != nil {
			t.Fatal(err)
		}
		if got := cfgPaths(v); got != tc.want {
			t.Errorf("keep=%v from %s: %s, want %s", tc.keep, tc.cfg.Path, got, tc.want)
		}
		v.mu.Lock()
		if s := v.def.Devices.Disks[0].Source; s.Index != 0 || s.NodeName != "" {
			t.Errorf("runtime names in the definition: %+v", s)
		}
		v.mu.Unlock()
	}
}

// TestRevertRefusals: libvirt 9.0 reverts to no external snapshot.
func TestRevertRefusals(t *testing.T) {
	d, v, _ := runningVM(t, &fakeMonitor{}, "")
	c := &conn{d: d}
	v.mu.Lock()
	h := v.handle()
	v.mu.Unlock()
	if err := d.saveSnap(v.name, extSnap("s1", "", "/ov", "/base")); err != nil {
		t.Fatal(err)
	}
	s1 := driver.Snapshot{Dom: h, Name: "s1"}
	wantErrCode(t, c.DomainRevertToSnapshot(s1, 0), virerr.ErrConfigUnsupported,
		"unsupported configuration: revert to external snapshot not supported yet")
	wantErrCode(t, c.DomainRevertToSnapshot(driver.Snapshot{Dom: h, Name: "nope"}, 0), virerr.ErrNoDomainSnapshot, "nope")
	wantErrCode(t, c.DomainRevertToSnapshot(s1, 1<<5), virerr.ErrInvalidArg, "unsupported flags (0x20) in function qemuSnapshotRevert")
	v.mu.Lock()
	blockOf(v).Jobs["vda"] = newBlockJob("j", "vda", 0)
	v.mu.Unlock()
	wantErrCode(t, c.DomainRevertToSnapshot(s1, 0), virerr.ErrOperationInvalid, "domain has active block job")
}
