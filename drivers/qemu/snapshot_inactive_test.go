package qemu

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/virerr"
)

// TestInactiveOverlays: qemu-img makes the overlay on the image the
// definition names, with libvirt's -o backing options; when it fails the
// error is libvirt's child-process one and no file is left behind.
func TestInactiveOverlays(t *testing.T) {
	bin, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed")
	}
	dir := t.TempDir()
	base, ov := filepath.Join(dir, "a,b.img"), filepath.Join(dir, "ov.qcow2")
	if out, err := exec.Command(bin, "create", "-q", "-f", "raw", base, "1M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	d, v, _ := runningVM(t, &fakeMonitor{}, "")
	v.mu.Lock()
	v.def = domWith(conf.DiskSource{Type: "file", Path: base, Format: "raw"})
	v.def.Name = v.name
	v.mu.Unlock()
	plan := &overlayPlan{target: "vda", oldTop: conf.DiskSource{Type: "file", Path: base, Format: "raw"},
		overlay: conf.DiskSource{Type: "file", Path: ov, Format: "qcow2"}}
	if err := d.takeOverlaysInactive(v, []*overlayPlan{plan}, false); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, "info", ov).CombinedOutput()
	if !strings.Contains(string(out), "backing file: "+base) || !strings.Contains(string(out), "backing file format: raw") {
		t.Errorf("qemu-img info:\n%s", out)
	}
	if got := cfgPaths(v); got != ov {
		t.Errorf("definition: %s", got)
	}

	missing, ov2 := filepath.Join(dir, "missing.img"), filepath.Join(dir, "ov2.qcow2")
	plan = &overlayPlan{target: "vda", oldTop: conf.DiskSource{Type: "file", Path: missing},
		overlay: conf.DiskSource{Type: "file", Path: ov2, Format: "qcow2"}}
	err = d.takeOverlaysInactive(v, []*overlayPlan{plan}, false)
	wantErrCode(t, err, virerr.ErrInternalError, "Child process ("+bin+" create -f qcow2 -o backing_fmt=raw,backing_file="+missing+" "+ov2+") unexpected exit status 1: ")
	if fileExists(ov2) {
		t.Error("failed overlay left behind")
	}
	if got := cfgPaths(v); got != ov {
		t.Errorf("definition changed by a failure: %s", got)
	}
}
