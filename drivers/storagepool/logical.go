package storagepool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"govirt/virerr"
)

// logicalBackend is libvirt's logical pool (storage_backend_logical.c): a
// volume group on the source devices, whose logical volumes are the
// volumes, seen as block devices under /dev/VG. Everything is done with
// the LVM command line tools, with libvirt's commands and options.
type logicalBackend struct{}

// lvmTimeout bounds every LVM command: a stuck one must not hold its
// pool's operation lock forever.
const lvmTimeout = 2 * time.Minute

// lvmRun runs an LVM tool and returns its standard output; tests replace
// it with a fake.
var lvmRun = runLVM

// lvmDevDir is where LVM puts the VG/LV device links (tests move it).
var lvmDevDir = "/dev"

// sbinTool finds a system tool, also where PATH lacks the sbin
// directories (as for a daemon started by a non-root user's shell).
func sbinTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if fi, err := os.Stat(dir + "/" + name); err == nil && fi.Mode().IsRegular() {
			return dir + "/" + name
		}
	}
	return name
}

// runLVM runs an LVM command as virCommandRun does (no standard input, a
// failure reported with the command line and what the tool printed on
// standard error), with LVM's warnings about inherited descriptors off.
func runLVM(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lvmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sbinTool(name), args...)
	cmd.Env = append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	full := strings.Join(append([]string{name}, args...), " ")
	if errors.Is(err, exec.ErrNotFound) {
		return "", errStorage(virerr.ErrSystemError, "Cannot find '%s' in path: No such file or directory", name)
	}
	if ctx.Err() != nil {
		return "", errStorage(virerr.ErrInternalError, "Child process (%s) did not finish within %s and was killed", full, lvmTimeout)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "", errStorage(virerr.ErrInternalError, "Cannot run %s: %v", full, err)
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = strings.TrimSpace(stdout.String())
	}
	return "", errStorage(virerr.ErrInternalError, "Child process (%s) unexpected exit status %d: %s", full, ee.ExitCode(), msg)
}

// matchSource is virStorageBackendLogicalMatchPoolSource: pvs must list
// the volume group, and at least one of the pool's devices among its
// physical volumes (a partial match only makes libvirt warn).
func matchSource(d *poolDef) error {
	// Only to make LVM rescan; failures do not matter, as in libvirt.
	_, _ = lvmRun("vgscan")
	out, err := lvmRun("pvs", "--noheadings", "-o", "pv_name,vg_name")
	if err != nil {
		return err
	}
	for _, src := range parsePVS(out) {
		if src.vg != d.srcName {
			continue
		}
		if len(d.devices) == 0 {
			return nil
		}
		for _, want := range d.devices {
			for _, have := range src.devices {
				if want == have {
					return nil
				}
			}
		}
		return errStorage(virerr.ErrConfigUnsupported,
			"cannot find any matching source devices for logical volume group '%s'", d.srcName)
	}
	return errStorage(virerr.ErrConfigUnsupported, "cannot find logical volume group name '%s'", d.srcName)
}

// check tells whether the volume group is still there with the pool's
// devices. libvirt also wants /dev/VG to exist, which LVM only creates
// for a group with active volumes: an empty group would come back
// inactive after every daemon restart.
func (logicalBackend) check(d *poolDef) (bool, error) {
	if err := matchSource(d); err != nil {
		return false, err
	}
	return true, nil
}

func (logicalBackend) start(d *poolDef) error {
	if err := matchSource(d); err != nil {
		return err
	}
	_, err := lvmRun("vgchange", "-aly", d.srcName)
	return err
}

// stop deactivates the volume group; LVM refuses while a volume is open.
func (logicalBackend) stop(d *poolDef) error {
	_, err := lvmRun("vgchange", "-aln", d.srcName)
	return err
}

// build is virStorageBackendLogicalBuildPool: every device is checked to
// hold nothing (unless overwriting), has its first and last MiB zeroed
// and becomes a physical volume; then the volume group is created on
// them. On failure the physical volumes made so far are removed again.
func (logicalBackend) build(d *poolDef, flags uint32) (err error) {
	if bad := flags &^ (buildOverwrite | buildNoOverwrite); bad != 0 {
		return errFlags(bad, "virStorageBackendLogicalBuildPool")
	}
	if flags&buildOverwrite != 0 && flags&buildNoOverwrite != 0 {
		return errStorage(virerr.ErrInvalidArg, "%s",
			"Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive")
	}
	done := 0
	defer func() {
		if err != nil {
			for _, dev := range d.devices[:done] {
				_, _ = lvmRun("pvremove", dev)
			}
		}
	}()
	for _, dev := range d.devices {
		if flags&buildOverwrite == 0 {
			if err := deviceEmpty(dev, "LVM2_member"); err != nil {
				return err
			}
		}
		if err := zeroPartitionTable(dev, 1<<20); err != nil {
			return err
		}
		if _, err := lvmRun("pvcreate", dev); err != nil {
			return err
		}
		done++
	}
	_, err = lvmRun("vgcreate", append([]string{d.srcName}, d.devices...)...)
	return err
}

// delete removes the volume group (with its volumes) and clears the
// physical volume labels; failing to clear one is not an error.
func (logicalBackend) delete(d *poolDef, flags uint32) error {
	if flags != 0 {
		return errFlags(flags, "virStorageBackendLogicalDeletePool")
	}
	if _, err := lvmRun("vgremove", "-f", d.srcName); err != nil {
		return err
	}
	for _, dev := range d.devices {
		_, _ = lvmRun("pvremove", dev)
	}
	return nil
}

// deviceEmpty is virStorageBackendDeviceIsEmpty for a device about to be
// written (blkid's low-level probe stands in for libblkid): a file system
// or partition table is in the way, and so is an existing want (the
// device was already built).
func deviceEmpty(dev, want string) error {
	ctx, cancel := context.WithTimeout(context.Background(), lvmTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, sbinTool("blkid"), "-p", "-o", "export", dev).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return nil // nothing found
	}
	if err != nil {
		return errStorage(virerr.ErrOperationInvalid,
			"Unable to probe '%s' for existing data, forced overwrite is necessary", dev)
	}
	var typ, pttype string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "TYPE="); ok {
			typ = v
		} else if v, ok := strings.CutPrefix(l, "PTTYPE="); ok {
			pttype = v
		}
	}
	switch {
	case typ == want:
		return errStorage(virerr.ErrStoragePoolBuilt, "Device '%s' already formatted using '%s'", dev, want)
	case typ != "" || pttype != "":
		return errStorage(virerr.ErrStoragePoolBuilt,
			"Format of device '%s' does not match the expected format '%s', forced overwrite is necessary", dev, want)
	}
	return nil
}

// zeroPartitionTable is virStorageBackendZeroPartitionTable: size bytes
// of zeros at the start and at the end of the device, where partition
// tables (and LVM labels) live.
func zeroPartitionTable(dev string, size int64) error {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return errSys(err, "Failed to open storage volume with path '%s'", dev)
	}
	defer f.Close()
	if err := zeroRange(f, dev, 0, size); err != nil {
		return err
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err == nil && end < size {
		err = syscall.EINVAL
	}
	if err != nil {
		return errSys(err, "Failed to seek to %d bytes to the end in volume with path '%s'", size, dev)
	}
	return zeroRange(f, dev, end-size, size)
}

// readVG runs lvs and vgs for a volume group, as
// virStorageBackendLogicalRefreshPool; found is false when vgs printed no
// sizes.
func readVG(vg string) (lvs []*lvInfo, sz vgSizes, found bool, err error) {
	out, err := lvmRun("lvs", "--separator", "#", "--noheadings", "--units", "b", "--unbuffered",
		"--nosuffix", "--options", lvsFields, vg)
	if err != nil {
		return nil, sz, false, err
	}
	if lvs, err = parseLVS(out); err != nil {
		return nil, sz, false, err
	}
	out, err = lvmRun("vgs", "--separator", ":", "--noheadings", "--units", "b", "--unbuffered",
		"--nosuffix", "--options", "vg_size,vg_free", vg)
	if err != nil {
		return nil, sz, false, err
	}
	sz, found, err = parseVGS(out)
	return lvs, sz, found, err
}

// applyVG makes the pool's records match what readVG found. A record is
// kept (with its busy state) when the volume is the same one; volumes
// still being created are kept even when lvs does not show them yet.
func applyVG(p *pool, lvs []*lvInfo, sz vgSizes, found bool) {
	vols := make(map[string]*vol, len(lvs))
	for _, lv := range lvs {
		if old := p.vols[lv.name]; old != nil && (old.building || old.key == lv.uuid) {
			old.key, old.lv = lv.uuid, lv
			vols[lv.name] = old
			continue
		}
		vols[lv.name] = &vol{name: lv.name, path: p.def.target + "/" + lv.name, key: lv.uuid, lv: lv}
	}
	for name, old := range p.vols {
		if old.building && vols[name] == nil {
			vols[name] = old
		}
	}
	p.vols = vols
	if found {
		p.sizes = poolSizes{capacity: sz.capacity, available: sz.free, allocation: sz.capacity - sz.free}
	}
}

func (b logicalBackend) scan(m *Manager, d *poolDef) (func(*pool), error) { return b.reread(m, d) }

func (logicalBackend) reread(_ *Manager, d *poolDef) (func(*pool), error) {
	lvs, sz, found, err := readVG(d.srcName)
	if err != nil {
		return nil, err
	}
	return func(p *pool) { applyVG(p, lvs, sz, found) }, nil
}

// sizes keeps what the last refresh read, as libvirt reports them.
func (logicalBackend) sizes(*poolDef) (poolSizes, bool, error) { return poolSizes{}, false, nil }

// lvSizeK is an lvcreate/lvresize size argument: KiB, rounded up.
func lvSizeK(b uint64) string { return fmt.Sprintf("%dK", b/1024+min(b%1024, 1)) }
