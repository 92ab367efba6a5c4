package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"govirt/conf"
	"govirt/virerr"
)

// DAC labels of device nodes in a private /dev, as libvirt: with a mount
// namespace, qemuSecuritySetAllLabel and the hot-plug paths commit their
// chown()s inside QEMU's namespace (virSecurityDACTransactionCommit with
// the guest's pid), so a node below /dev gets QEMU's owner on QEMU's copy
// while the host's node keeps its own. Files elsewhere (images, the
// varstore, and whatever lives in a mount kept from the host's /dev)
// are the same inodes in both namespaces and are labelled as before.
// At stop the copies are gone with the namespace and the host's nodes
// were never changed, so they are left alone.

// privateDevMark, in the guest's run directory, says this run's QEMU has a
// private /dev (it outlives a daemon restart, as the run directory does).
const privateDevMark = "private-dev"

// devOwner is the owner a node's copy gets.
type devOwner struct{ uid, gid int }

// nsLabels collects the owners labelling gives to device nodes below
// /dev instead of changing the host's nodes. With only set it labels
// nothing else (the files were labelled already: it just recomputes the
// nodes' owners for a hot-plugged disk's copies).
type nsLabels struct {
	owners map[string]devOwner // by the node's path (symlinks resolved); nil: not kept
	only   bool
}

// own is setOwnership, unless path is a device node below /dev and the
// guest has a private /dev (n not nil).
func (n *nsLabels) own(path string, uid, gid int, remember bool) error {
	if n != nil {
		if t := devTarget(path); t != "" {
			if n.owners != nil {
				n.owners[t] = devOwner{uid, gid}
			}
			return nil
		}
		if n.only {
			return nil
		}
	}
	return setOwnership(path, uid, gid, remember)
}

// devTarget is the device node below /dev that path is or leads to, ""
// for anything else (a regular file or directory, a node that lives in a
// mount kept from the host's /dev such as /dev/shm or huge pages).
func devTarget(path string) string {
	r, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	if !strings.HasPrefix(r, "/dev/") {
		return ""
	}
	var st syscall.Stat_t
	if syscall.Stat(r, &st) != nil {
		return ""
	}
	if t := st.Mode & syscall.S_IFMT; t != syscall.S_IFBLK && t != syscall.S_IFCHR {
		return ""
	}
	if keep, err := devSubmounts("/proc/self/mountinfo"); err == nil && underAny(r, keep) {
		return ""
	}
	return r
}

// setNodeOwners gives the nodes QEMU's copies are made from the owners
// labelling chose.
func setNodeOwners(nodes []nsNode, owners map[string]devOwner) {
	for i := range nodes {
		if o, ok := owners[nodes[i].path]; ok && nodes[i].isDev() {
			nodes[i].uid, nodes[i].gid = uint32(o.uid), uint32(o.gid)
		}
	}
}

// markPrivateDev records that the run in dir has a private /dev.
func markPrivateDev(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, privateDevMark), nil, 0o600); err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot write %s: %v", filepath.Join(dir, privateDevMark), err)
	}
	return nil
}

// ranWithPrivateDev says whether the guest's current (or just ended) run
// has a private /dev whose copies took the nodes' labels.
func (d *Driver) ranWithPrivateDev(name string) bool {
	dir, err := d.domainDir(name)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, privateDevMark))
	return err == nil
}

// nsLabelsFor is the labelling context of a running guest's hot-plug:
// its nodes below /dev are not changed on the host when it has a private
// /dev (their copies are made by allowDiskDevices).
func (d *Driver) nsLabelsFor(v *vm) *nsLabels {
	if !d.ranWithPrivateDev(v.name) {
		return nil
	}
	return &nsLabels{}
}

// nsOwnersOf is the owners of disk's device nodes in a running guest's
// private /dev, as labelling the disk gives them (nil: keep the host's).
func (d *Driver) nsOwnersOf(v *vm, disk *conf.Disk) map[string]devOwner {
	if !d.sec.enabled || !d.ranWithPrivateDev(v.name) {
		return nil
	}
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return nil
	}
	g, err := parseGuestSeclabel(live)
	if err != nil || !d.sec.dacActive(g) {
		return nil
	}
	n := &nsLabels{owners: map[string]devOwner{}, only: true}
	if err := d.sec.labelDisk(g, disk, n); err != nil {
		return nil
	}
	return n.owners
}
