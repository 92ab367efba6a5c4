package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// A private /dev (qemu.conf's namespaces = ["mount"], libvirt's default
// for a privileged daemon): QEMU runs in a mount namespace of its own
// whose /dev is a small tmpfs holding only the nodes the guest uses
// (namespace_paths.go), with the host's owners, modes, ACLs and labels;
// the mounts below /dev (/dev/pts, /dev/shm, /dev/mqueue, huge pages)
// are moved into it as libvirt does. The rest of the tree is the host's,
// a slave of it, so later host mounts still reach QEMU.
//
// Go cannot run code between fork and exec, and mount namespaces are
// per thread only once the thread has its own filesystem context, so
// the namespace is built on a locked OS thread that unshares
// CLONE_NEWNS (which brings CLONE_FS), and QEMU is forked from that
// thread; the thread is then discarded, never given back to the
// runtime. Hot-plug enters QEMU's namespace the same way: a locked
// thread unshares CLONE_FS (setns into a mount namespace refuses a
// shared filesystem context) and setns()es into /proc/PID/ns/mnt,
// where it creates or removes nodes, then dies.

const (
	mntDetach    = 2 // MNT_DETACH
	devTmpfsOpts = "mode=755,size=65536"
)

// privateDev is what a spawn builds: the nodes, read from the host
// before the thread leaves its namespace, and a directory below the
// guest's private directory to build the tmpfs in.
type privateDev struct {
	nodes    []nsNode
	buildDir string
}

// prepareNamespace reads the nodes a starting guest needs; the copies of
// those in owners get those owners (their DAC labels, security_nsdev.go).
func prepareNamespace(paths []string, buildDir string, owners map[string]devOwner) (*privateDev, error) {
	keep, err := devSubmounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	nodes, err := statNSNodes(paths, keep)
	if err != nil {
		return nil, err
	}
	setNodeOwners(nodes, owners)
	return &privateDev{nodes: nodes, buildDir: buildDir}, nil
}

// build runs on the spawning thread: a new mount namespace, everything
// made a slave of the host's, a tmpfs populated with the nodes, the
// mounts below the host's /dev moved into it, and the tmpfs moved over
// /dev (libvirt's qemuDomainUnshareNamespace and
// qemuDomainBuildNamespace in one step).
func (p *privateDev) build() error {
	if err := syscall.Unshare(syscall.CLONE_NEWNS | syscall.CLONE_FS); err != nil {
		return fmt.Errorf("cannot unshare mount namespace: %v", err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_SLAVE|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("Failed to make root private: %v", err)
	}
	keep, err := devSubmounts("/proc/thread-self/mountinfo")
	if err != nil {
		return err
	}
	t := p.buildDir
	if err := os.MkdirAll(t, 0o700); err != nil {
		return err
	}
	// The directory is only a mount point in this namespace: the host
	// sees it empty, and it goes once /dev is in place.
	defer os.Remove(t)
	if err := syscall.Mount("devfs", t, "tmpfs", syscall.MS_NOSUID, devTmpfsOpts); err != nil {
		return fmt.Errorf("Failed to mount devfs on %s: %v", t, err)
	}
	for i := range p.nodes {
		if err := makeNSNode(t, &p.nodes[i], true); err != nil {
			return err
		}
	}
	for _, m := range keep {
		dst := filepath.Join(t, strings.TrimPrefix(m, "/dev/"))
		var st syscall.Stat_t
		if err := syscall.Stat(m, &st); err != nil {
			return fmt.Errorf("Unable to stat: %s: %v", m, err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			if err := os.Mkdir(dst, os.FileMode(st.Mode&0o777)); err != nil && !os.IsExist(err) {
				return err
			}
		} else if f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
		if err := syscall.Mount(m, dst, "", syscall.MS_MOVE, ""); err != nil {
			return fmt.Errorf("Unable to move %s mount to %s: %v", m, dst, err)
		}
	}
	if err := syscall.Unmount("/dev", mntDetach); err != nil {
		return fmt.Errorf("failed to umount devfs on /dev: %v", err)
	}
	if err := syscall.Mount(t, "/dev", "", syscall.MS_MOVE, ""); err != nil {
		return fmt.Errorf("Unable to move %s mount to /dev: %v", t, err)
	}
	return nil
}

// makeNSNode creates n below root (the tmpfs, or /dev inside QEMU's
// namespace) as libvirt's qemuNamespaceMknodOne: an existing entry that
// already matches is left alone. Files and directories are bind mounts
// of the host's, possible only while the host's /dev is reachable
// (canBind: at start).
func makeNSNode(root string, n *nsNode, canBind bool) error {
	dst := filepath.Join(root, strings.TrimPrefix(n.path, "/dev/"))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("Unable to create %s: %v", n.path, err)
	}
	isDir := n.mode&syscall.S_IFMT == syscall.S_IFDIR
	switch {
	case n.isLink():
		if cur, err := os.Readlink(dst); err == nil && cur == n.target {
			return nil
		}
		os.Remove(dst)
		if err := os.Symlink(n.target, dst); err != nil {
			return fmt.Errorf("Unable to create symlink %s (pointing to %s): %v", n.path, n.target, err)
		}
	case n.isDev():
		var st syscall.Stat_t
		if syscall.Lstat(dst, &st) == nil && st.Rdev == n.rdev && st.Mode&syscall.S_IFMT == n.mode&syscall.S_IFMT {
			break // its owner and mode are refreshed below
		}
		os.Remove(dst)
		if err := syscall.Mknod(dst, n.mode, int(n.rdev)); err != nil {
			return fmt.Errorf("Unable to create device %s: %v", n.path, err)
		}
	default:
		if !canBind {
			return fmt.Errorf("unsupported device type %s 0%o", n.path, n.mode)
		}
		if isDir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		} else if f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		} else {
			return err
		}
	}
	if err := os.Lchown(dst, int(n.uid), int(n.gid)); err != nil {
		return fmt.Errorf("Failed to chown device %s: %v", n.path, err)
	}
	if !n.isLink() {
		if err := os.Chmod(dst, fileMode(n.mode)); err != nil {
			return fmt.Errorf("Failed to set permissions for device %s: %v", n.path, err)
		}
		for k, v := range n.xattrs {
			if err := syscall.Setxattr(dst, k, v, 0); err != nil && !errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, syscall.EOPNOTSUPP) {
				return fmt.Errorf("Unable to set %s on %s: %v", k, n.path, err)
			}
		}
	}
	if !n.isLink() && !n.isDev() {
		if err := syscall.Mount(n.path, dst, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("Failed to bind mount %s on %s: %v", n.path, dst, err)
		}
	}
	return nil
}

// fileMode turns st_mode's permission bits into an os.FileMode.
func fileMode(m uint32) os.FileMode {
	fm := os.FileMode(m & 0o777)
	if m&syscall.S_ISUID != 0 {
		fm |= os.ModeSetuid
	}
	if m&syscall.S_ISGID != 0 {
		fm |= os.ModeSetgid
	}
	if m&syscall.S_ISVTX != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

// hasOwnMountNS is true when pid lives in another mount namespace than
// the daemon: its QEMU was started with a private /dev (by this daemon
// or an earlier one, whatever the configuration says now).
func hasOwnMountNS(pid int) bool {
	if pid <= 0 {
		return false
	}
	own, err1 := os.Readlink("/proc/self/ns/mnt")
	theirs, err2 := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	return err1 == nil && err2 == nil && own != theirs
}

// inMountNS runs fn on a throw-away thread inside the mount namespace of
// the process pid that started at start.
func inMountNS(pid int, start uint64, fn func() error) error {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	if err != nil {
		return err
	}
	defer f.Close()
	if !sameProcess(pid, start) {
		return fmt.Errorf("process %d is gone", pid)
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := syscall.Unshare(syscall.CLONE_FS); err != nil {
			done <- fmt.Errorf("cannot unshare filesystem context: %v", err)
			return
		}
		if sysSetns < 0 {
			done <- syscall.ENOSYS
			return
		}
		if _, _, e := syscall.RawSyscall(uintptr(setnsNum), f.Fd(), syscall.CLONE_NEWNS, 0); e != 0 {
			done <- fmt.Errorf("Unable to enter mnt namespace: %v", e)
			return
		}
		done <- fn()
	}()
	return <-done
}

// nsMknod creates the /dev nodes of paths (those not there yet, or
// changed) in a running guest's namespace, with their host owners or
// those in owners (their DAC labels): hot-plug calls it after labelling.
func nsMknod(pid int, start uint64, paths []string, owners map[string]devOwner) error {
	if !hasOwnMountNS(pid) {
		return nil
	}
	keep, err := devSubmounts("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return err
	}
	nodes, err := statNSNodes(paths, keep)
	if err != nil || len(nodes) == 0 {
		return err
	}
	setNodeOwners(nodes, owners)
	return inMountNS(pid, start, func() error {
		for i := range nodes {
			if err := makeNSNode("/dev", &nodes[i], false); err != nil {
				return err
			}
		}
		return nil
	})
}

// nsUnlink removes nodes from a running guest's namespace (libvirt's
// qemuNamespaceUnlinkPaths): never the default ACL's, nor anything in a
// mount kept from the host.
func nsUnlink(pid int, start uint64, paths []string) error {
	if !hasOwnMountNS(pid) {
		return nil
	}
	keep, err := devSubmounts("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return err
	}
	var gone []string
	for _, p := range paths {
		if strings.HasPrefix(p, "/dev/") && !underAny(p, keep) && !isDefaultACL(p) {
			gone = append(gone, p)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return inMountNS(pid, start, func() error {
		for _, p := range gone {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("Unable to remove device %s: %v", p, err)
			}
		}
		return nil
	})
}

// mountNamespacesOn is the driver's namespaces setting: the configured
// list, or libvirt's default (privileged and supported).
func mountNamespacesOn(list []string, set bool) bool {
	if set {
		for _, n := range list {
			if n == "mount" {
				return true
			}
		}
		return false
	}
	_, err := os.Stat("/proc/self/ns/mnt")
	return os.Geteuid() == 0 && err == nil
}
