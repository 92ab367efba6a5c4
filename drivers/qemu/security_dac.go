package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// The DAC security driver, as libvirt's (src/security/security_dac.c):
// at start every file a guest's QEMU opens by name is given to the QEMU
// user, remembering its owner in the file's xattrs (security_xattr.go);
// at stop the owner comes back. As libvirt, only a disk's top image that
// is neither read-only nor shareable is remembered and restored: backing
// images and shared disks stay with the QEMU user, as other guests may be
// using them (a reference count cannot account for guests started with
// relabelling off).

// dacActive says whether files are relabelled for a guest with label g.
func (s *secDriver) dacActive(g guestSeclabel) bool {
	return s.enabled && s.dynamic && g.relabel
}

// setOwnership is virSecurityDACSetOwnership.
func setOwnership(path string, uid, gid int, remember bool) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return errQEMU(virerr.ErrSystemError, "unable to stat: %s: %v", path, err)
	}
	if remember {
		n, err := rememberOwner(path, int(st.Uid), int(st.Gid))
		switch {
		case errors.Is(err, errNoXattr):
		case err != nil:
			return errQEMU(virerr.ErrSystemError, "%v", err)
		case n > 1 && (int(st.Uid) != uid || int(st.Gid) != gid):
			_, _, _, _ = recallOwner(path)
			return errQEMU(virerr.ErrOperationInvalid, "Setting different DAC user or group on %s which is already in use", path)
		}
	}
	if err := chownQuiet(path, &st, uid, gid); err != nil {
		if remember {
			_, _, _, _ = recallOwner(path)
		}
		return err
	}
	return nil
}

// chownQuiet is virSecurityDACSetOwnershipInternal: nothing to do when the
// owner is already right; a read-only or foreign file system that refuses
// is not an error when the owner could not have been changed anyway.
func chownQuiet(path string, st *syscall.Stat_t, uid, gid int) error {
	if int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EOPNOTSUPP) {
			return nil
		}
		return errQEMU(virerr.ErrSystemError, "unable to set user and group to '%d:%d' on '%s': %v", uid, gid, path, err)
	}
	return nil
}

// restoreOwnership is virSecurityDACRestoreFileLabelInternal: the
// remembered owner, root when none was remembered, nothing while other
// guests still use the file.
func restoreOwnership(path string, recall bool) error {
	uid, gid := 0, 0
	if recall {
		u, g, inUse, err := recallOwner(path)
		switch {
		case errors.Is(err, errNoXattr):
		case err != nil:
			return err
		case inUse:
			return nil
		default:
			uid, gid = u, g
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return err
	}
	return chownQuiet(path, &st, uid, gid)
}

// localPath is the host file of an image govirt relabels: files and
// block devices (directories and network images are not labelled).
func localPath(s *conf.DiskSource) string {
	if s == nil || (s.Type != "file" && s.Type != "block" && s.Type != "") || s.Path == "" {
		return ""
	}
	if s.Type == "" && !filepath.IsAbs(s.Path) {
		return ""
	}
	return s.Path
}

// labelDisk gives every image of disk's chain to the guest's QEMU user
// (virSecurityDACSetImageLabel with the whole chain).
func (s *secDriver) labelDisk(g guestSeclabel, disk *conf.Disk, ns *nsLabels) error {
	if !s.dacActive(g) || disk.Source.Type == "dir" {
		return nil
	}
	labels := diskSeclabels(disk)
	i := 0
	for src := &disk.Source; src != nil; src = src.Backing {
		if i > 0 && src.Type == "" {
			break // the <backingStore/> that ends a chain
		}
		if err := s.labelImage(g, disk, src, labels, i, ns); err != nil {
			return err
		}
		i++
	}
	return nil
}

// labelImage labels one image of disk's chain (index i, 0 the top).
func (s *secDriver) labelImage(g guestSeclabel, disk *conf.Disk, src *conf.DiskSource, labels []imageSeclabel, i int, ns *nsLabels) error {
	path := localPath(src)
	if path == "" {
		return nil
	}
	uid, gid := s.imageIDs(g)
	own := imageSeclabel{}
	if i < len(labels) {
		own = labels[i]
	}
	top := imageSeclabel{}
	if len(labels) > 0 {
		top = labels[0]
	}
	switch {
	case own.present && (!own.relabel || own.set):
		if !own.relabel {
			return nil
		}
		uid, gid = own.uid, own.gid
	case top.present && (!top.relabel || top.set):
		if !top.relabel {
			return nil
		}
		uid, gid = top.uid, top.gid
	}
	remember := i == 0 && !disk.ReadOnly && !disk.Shareable
	return ns.own(path, uid, gid, remember)
}

// restoreDisk gives a disk's top image back to its owner
// (virSecurityDACRestoreImageLabelSingle).
func (s *secDriver) restoreDisk(g guestSeclabel, disk *conf.Disk, privDev bool) error {
	if !s.dacActive(g) || disk.ReadOnly || disk.Shareable {
		return nil
	}
	if l := diskSeclabels(disk); len(l) > 0 && l[0].present && !l[0].relabel {
		return nil
	}
	path := localPath(&disk.Source)
	if path == "" || (privDev && devTarget(path) != "") {
		return nil // only QEMU's copy of the node was labelled
	}
	return restoreOwnership(path, true)
}

// labelDomain is virSecurityDACSetAllLabel for what govirt's QEMU opens by
// name: disks with their chains, the varstore, kernel and initrd.
// Descriptors govirt passes (chardev files, taps, the log) need nothing.
func (s *secDriver) labelDomain(g guestSeclabel, def *conf.Domain, nvram string, ns *nsLabels) error {
	if !s.dacActive(g) {
		return nil
	}
	for _, disk := range def.Devices.Disks {
		if err := s.labelDisk(g, disk, ns); err != nil {
			return err
		}
	}
	uid, gid := s.imageIDs(g)
	for _, p := range s.extraFiles(def, nvram) {
		if err := ns.own(p, uid, gid, true); err != nil {
			return err
		}
	}
	return nil
}

// restoreDomain is virSecurityDACRestoreAllLabel; failures are logged by
// the caller and do not stop the rest.
func (s *secDriver) restoreDomain(g guestSeclabel, def *conf.Domain, nvram string, privDev bool) []error {
	if !s.dacActive(g) {
		return nil
	}
	var errs []error
	for _, disk := range def.Devices.Disks {
		if err := s.restoreDisk(g, disk, privDev); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range s.extraFiles(def, nvram) {
		if privDev && devTarget(p) != "" {
			continue
		}
		if err := restoreOwnership(p, true); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errs
}

// extraFiles are the guest's non-disk files QEMU opens by name: the
// varstore, kernel, initrd and SCSI host devices' generic nodes.
func (s *secDriver) extraFiles(def *conf.Domain, nvram string) []string {
	out := hostdevFiles(def)
	if nvram != "" {
		if _, err := os.Stat(nvram); err == nil {
			out = append(out, nvram)
		}
	}
	for _, p := range []string{def.OS.Kernel, def.OS.Initrd} {
		if p != "" && strings.HasPrefix(p, "/") {
			out = append(out, p)
		}
	}
	return out
}

// liveSeclabelFor checks the guest's <seclabel> and writes the one
// libvirtd shows for a running guest into live (not yet published).
func (d *Driver) liveSeclabelFor(live *conf.Domain) error {
	if !d.sec.enabled {
		return nil
	}
	g, err := parseGuestSeclabel(live)
	if err != nil {
		return err
	}
	return live.SetElement("seclabel", d.sec.liveSeclabel(g))
}

// labelForStart prepares a guest's files for its QEMU: the DAC labels and
// its directories. It returns who QEMU runs as. What it labelled is
// restored by cleanupStopped from the live definition.
//
// With a private /dev (ns not nil) the nodes below /dev are not changed
// on the host: their owners go into ns, for QEMU's copies.
func (d *Driver) labelForStart(live *conf.Domain, ns *nsLabels, dirs ...string) (*procCred, error) {
	if !d.sec.enabled {
		return nil, nil
	}
	g, err := parseGuestSeclabel(live)
	if err != nil {
		return nil, err
	}
	cred := d.sec.credFor(g)
	if err := chownForQEMU(cred, dirs...); err != nil {
		return nil, errQEMU(virerr.ErrSystemError, "cannot give the directories of '%s' to QEMU: %v", live.Name, err)
	}
	if err := d.sec.labelDomain(g, live, d.nvramOf(live), ns); err != nil {
		return nil, err
	}
	return cred, nil
}

// restoreLabels gives back the files of a guest that stopped.
func (d *Driver) restoreLabels(name string, live *conf.Domain) {
	if !d.sec.enabled || live == nil {
		return
	}
	g, err := parseGuestSeclabel(live)
	if err != nil {
		return
	}
	for _, err := range d.sec.restoreDomain(g, live, d.nvramOf(live), d.ranWithPrivateDev(name)) {
		d.log.Warn("cannot restore the owner of a file", "domain", name, "err", err)
	}
}

// labelDiskLive labels a disk being plugged into a running guest (or a
// new medium); undo with restoreDiskLive. In a guest with a private /dev
// its nodes there are left to allowDiskDevices, which creates QEMU's
// copies with the owners labelling gives them (nsOwnersOf).
func (d *Driver) labelDiskLive(v *vm, live *conf.Domain, disk *conf.Disk) error {
	if !d.sec.enabled {
		return nil
	}
	g, err := parseGuestSeclabel(live)
	if err != nil {
		return err
	}
	return d.sec.labelDisk(g, disk, d.nsLabelsFor(v))
}

// restoreDiskLive gives back a disk's top image once QEMU let go of it
// (unplug, medium change, failed plug).
func (d *Driver) restoreDiskLive(name string, live *conf.Domain, disk *conf.Disk) {
	if !d.sec.enabled || disk == nil {
		return
	}
	g, err := parseGuestSeclabel(live)
	if err != nil {
		return
	}
	if err := d.sec.restoreDisk(g, disk, d.ranWithPrivateDev(name)); err != nil {
		d.log.Warn("cannot restore the owner of a disk image", "domain", name, "disk", disk.TargetDev, "err", err)
	}
}

// labelNewImage gives a new top image of disk (a snapshot overlay, a copy
// destination) to QEMU before it opens it, remembering its owner.
func (d *Driver) labelNewImage(v *vm, live *conf.Domain, disk *conf.Disk, src *conf.DiskSource) error {
	if !d.sec.enabled {
		return nil
	}
	g, err := parseGuestSeclabel(live)
	if err != nil {
		return err
	}
	if !d.sec.dacActive(g) {
		return nil
	}
	top := *disk
	top.Source = *src
	top.Source.Backing = nil
	return d.sec.labelImage(g, &top, &top.Source, diskSeclabels(disk), 0, d.nsLabelsFor(v))
}

// grantNewImage is labelNewImage plus the image's device node, when it is
// one, in the guest's cgroup list.
func (d *Driver) grantNewImage(v *vm, live *conf.Domain, disk *conf.Disk, src *conf.DiskSource) error {
	if err := d.labelNewImage(v, live, disk, src); err != nil {
		return err
	}
	top := *disk
	top.Source = *src
	top.Source.Backing = nil
	return d.allowDiskDevices(v, &top)
}

// restoreNewImage undoes labelNewImage when QEMU did not take the image.
func (d *Driver) restoreNewImage(name string, live *conf.Domain, disk *conf.Disk, src *conf.DiskSource) {
	if disk == nil {
		return
	}
	top := *disk
	top.Source = *src
	top.Source.Backing = nil
	d.restoreDiskLive(name, live, &top)
}

// restoreLeftImages gives back the top images a finished block job took
// out of QEMU: the old top after a pivot or an active commit, a copy
// destination that was abandoned (libvirt's access revocation of a chain
// that leaves, qemuBlockJobEventProcessConcludedRemoveChain). Backing
// images were never remembered and stay as they are.
func (d *Driver) restoreLeftImages(v *vm, disk *conf.Disk, j *blockJob, res chainChange) {
	if !d.sec.enabled || disk == nil {
		return
	}
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return
	}
	for _, s := range res.unplug {
		abandonedCopy := j.Type == driver.BlockJobTypeCopy && !res.changed
		if s.Path == res.oldTop || abandonedCopy {
			d.restoreNewImage(v.name, live, disk, s)
		}
	}
}
