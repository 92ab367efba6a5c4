package storagepool

import (
	"io"
	"os"
	"path/filepath"

	"govirt/virerr"
)

// Volumes of logical pools: LVM logical volumes, used through their block
// devices /dev/VG/LV. Data operations (upload, download, wipe) work on the
// device as on a file; creation, removal and resizing are lvcreate,
// lvremove and lvresize.

// checkVolReq accepts raw only. libvirt ignores a logical volume's
// <format> altogether, which silently gives a raw device to whoever asked
// for qcow2; govirt says so instead.
func (logicalBackend) checkVolReq(r *volReq) error {
	switch r.format {
	case "", "raw", "none":
		r.format = "raw"
		return nil
	}
	return errStorage(virerr.ErrConfigUnsupported,
		"volume format '%s' is not supported in logical storage pools: logical volumes are raw block devices", r.format)
}

// lvcreateArgs is virStorageBackendLogicalLVCreate's command line: a
// volume allocated less than its capacity is a sparse (snapshot of
// nothing, --virtualsize) one, a volume with a backing store a snapshot
// of it.
func lvcreateArgs(vg string, r *volReq) []string {
	args := []string{"--name", r.name, "-L"}
	if r.capacity != r.allocation {
		args = append(args, lvSizeK(max(r.allocation, 1)), "--type", "snapshot", "--virtualsize")
	}
	args = append(args, lvSizeK(r.capacity))
	if r.backing != "" {
		args = append(args, "-s", r.backing)
	} else {
		args = append(args, vg)
	}
	return append(args, "--yes")
}

// createVol is virStorageBackendLogicalCreateVol: lvcreate, then the
// device node gets the requested owner and mode (0600 by default), then
// lvs must show the new volume. A failure after lvcreate removes it.
func (b logicalBackend) createVol(m *Manager, d *poolDef, r *volReq, _ bool) (*vol, error) {
	if _, err := lvmRun("lvcreate", lvcreateArgs(d.srcName, r)...); err != nil {
		return nil, err
	}
	v, err := b.adoptLV(d, r)
	if err != nil {
		_ = b.removeVol(m, &vol{name: r.name, path: r.path})
		return nil, err
	}
	return v, nil
}

// adoptLV sets a new volume's permissions and reads its record.
func (logicalBackend) adoptLV(d *poolDef, r *volReq) (*vol, error) {
	if os.Geteuid() == 0 && (r.perms.uid != -1 || r.perms.gid != -1) {
		if err := os.Chown(r.path, int(r.perms.uid), int(r.perms.gid)); err != nil {
			return nil, errSys(err, "cannot set file owner '%s'", r.path)
		}
	}
	mode := r.perms.mode
	if mode == -1 {
		mode = defaultVolMode
	}
	if err := os.Chmod(r.path, os.FileMode(mode)); err != nil {
		return nil, errSys(err, "cannot set file mode '%s'", r.path)
	}
	lvs, _, _, err := readVG(d.srcName)
	if err != nil {
		return nil, err
	}
	for _, lv := range lvs {
		if lv.name == r.name {
			return &vol{name: r.name, path: r.path, key: lv.uuid, lv: lv}, nil
		}
	}
	return nil, errStorage(virerr.ErrInternalError, "cannot find newly created volume '%s'", r.path)
}

// cloneVol creates the logical volume, at least as large as the source
// and fully allocated unless an allocation was asked for (as
// storageVolCreateXMLFrom), and copies the source into it with qemu-img,
// which also converts image formats to raw.
func (b logicalBackend) cloneVol(m *Manager, d *poolDef, r *volReq, src *volStat) (*vol, error) {
	rr := *r
	rr.capacity = max(r.capacity, src.capacity)
	if r.allocation == r.capacity { // no <allocation>: conf copies the capacity
		rr.allocation = rr.capacity
	}
	v, err := b.createVol(m, d, &rr, false)
	if err != nil {
		return nil, err
	}
	format := src.target.format
	if format == "" {
		format = "raw"
	}
	if err := run(m.qemuImg, "convert", "-n", "-f", format, "-O", "raw", src.target.path, r.path); err != nil {
		_ = b.removeVol(m, v)
		return nil, err
	}
	return v, nil
}

// statVol reads the device as virStorageBackendUpdateVolInfo does for a
// block volume: capacity and physical size from its end, owner, mode and
// times from its node; the allocation is what lvs reported.
func (logicalBackend) statVol(_ *Manager, v *vol) (*volStat, error) {
	fs, _, err := statFile(v.path)
	if err != nil {
		return nil, errSys(err, "cannot stat file '%s'", v.path)
	}
	f, err := os.Open(v.path)
	if err != nil {
		return nil, errSys(err, "cannot open volume '%s'", v.path)
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, errSys(err, "failed to seek to end of %s", v.path)
	}
	size := uint64(end)
	vs := &volStat{typ: volBlock, capacity: size, allocation: size, physical: size, target: fs}
	if lv := v.lv; lv != nil {
		vs.allocation = lv.size
		vs.extents = lv.extents
		if lv.origin != "" {
			// The origin is shown by path only: no format, owner or times.
			vs.backing = &fileStat{path: filepath.Join(filepath.Dir(v.path), lv.origin), perms: noPerms,
				atime: noTime, mtime: noTime, ctime: noTime}
		}
	}
	return vs, nil
}

// removeVol is virStorageBackendLogicalDeleteVol: lvremove -f, and when
// that fails, deactivate the volume and try once more.
func (logicalBackend) removeVol(_ *Manager, v *vol) error {
	if _, err := lvmRun("lvremove", "-f", v.path); err == nil {
		return nil
	}
	if _, err := lvmRun("lvchange", "-aln", v.path); err != nil {
		return err
	}
	_, err := lvmRun("lvremove", "-f", v.path)
	return err
}

// wipeVol zeroes the volume's allocation. Sparse volumes are refused as
// libvirt does: writing fills their copy-on-write store until LVM
// invalidates them.
func (logicalBackend) wipeVol(_ *Manager, v *vol) error {
	if v.lv != nil && v.lv.sparse {
		return errStorage(virerr.ErrNoSupport, "logical volume '%s' is sparse, volume wipe not supported", v.path)
	}
	f, err := os.OpenFile(v.path, os.O_RDWR, 0)
	if err != nil {
		return errSys(err, "Failed to open storage volume with path '%s'", v.path)
	}
	defer f.Close()
	n := int64(0)
	if v.lv != nil {
		n = int64(v.lv.size)
	} else if end, err := f.Seek(0, io.SeekEnd); err == nil {
		n = end
	}
	return zeroRange(f, v.path, 0, n)
}

// resizeVol runs lvresize (LVM rounds up to whole extents). libvirt 9.0
// cannot resize logical volumes at all; sparse ones stay refused here,
// since -L would resize their copy-on-write store, not what the guest
// sees.
func (logicalBackend) resizeVol(_ *Manager, v *vol, st *volStat, capacity uint64, _ uint32) error {
	if v.lv != nil && v.lv.sparse {
		return errStorage(virerr.ErrNoSupport, "logical volume '%s' is sparse, volume resize not supported", v.path)
	}
	args := []string{"-L", lvSizeK(capacity), "--yes"}
	if capacity < st.capacity {
		args = append(args, "--force") // lvresize asks before reducing
	}
	_, err := lvmRun("lvresize", append(args, v.path)...)
	return err
}
