package qemu

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// secDriver is the DAC security driver's configuration (qemu.conf's user,
// group and dynamic_ownership). Without a configured user there is no
// security driver: QEMU runs as the daemon's user and no file is
// relabelled, as libvirt with security_driver = "none" and user = root.
type secDriver struct {
	enabled bool // a user was configured
	uid     int
	gid     int
	// groups are the user's supplementary groups, as libvirt's
	// virGetGroupList: every group listing the user, plus gid.
	groups  []int
	dynamic bool // dynamic_ownership
}

// label is the "+UID:+GID" form libvirt shows and stores.
func ownerLabel(uid, gid int) string { return fmt.Sprintf("+%d:+%d", uid, gid) }

// parseOwnerLabel reads "+UID:+GID" or "user:group" (virParseOwnershipIds).
func parseOwnerLabel(s string) (int, int, error) {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("Failed to parse user and group from '%s'", s)
	}
	uid, err := lookupUID(u)
	if err != nil {
		return 0, 0, err
	}
	gid, err := lookupGID(g)
	if err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// lookupUID is virGetUserID: "+N" is a number, otherwise a name, falling
// back to a number.
func lookupUID(s string) (int, error) {
	if n, ok := strings.CutPrefix(s, "+"); ok {
		return strconv.Atoi(n)
	}
	if u, err := user.Lookup(s); err == nil {
		return strconv.Atoi(u.Uid)
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("Failed to parse user '%s'", s)
}

// lookupGID is virGetGroupID.
func lookupGID(s string) (int, error) {
	if n, ok := strings.CutPrefix(s, "+"); ok {
		return strconv.Atoi(n)
	}
	if g, err := user.LookupGroup(s); err == nil {
		return strconv.Atoi(g.Gid)
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("Failed to parse group '%s'", s)
}

// newSecDriver resolves the configured names. An empty group is the
// user's primary group.
func newSecDriver(userName, groupName string, noDynamic bool) (secDriver, error) {
	if userName == "" && groupName == "" {
		return secDriver{}, nil
	}
	s := secDriver{enabled: true, dynamic: !noDynamic}
	if userName == "" {
		userName = "root"
	}
	uid, err := lookupUID(userName)
	if err != nil {
		return s, err
	}
	s.uid = uid
	var u *user.User
	if lu, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		u = lu
	}
	if groupName == "" {
		if u == nil {
			return s, fmt.Errorf("user '%s' has no primary group: set group", userName)
		}
		groupName = "+" + u.Gid
	}
	if s.gid, err = lookupGID(groupName); err != nil {
		return s, err
	}
	s.groups = []int{s.gid}
	if u != nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.Atoi(id); err == nil && n != s.gid {
					s.groups = append(s.groups, n)
				}
			}
		}
	}
	return s, nil
}

// procCred is who one QEMU runs as. A nil *procCred (or uid 0) keeps
// the daemon's identity and capabilities, as libvirt with user = root.
type procCred struct {
	uid, gid int
	groups   []int
}

// credFor is the identity of a guest's QEMU: the static <seclabel> label
// when the guest names one (without supplementary groups, as libvirt's
// virSecurityDACGetIds), else the configured user.
func (s *secDriver) credFor(lbl guestSeclabel) *procCred {
	if !s.enabled {
		return nil
	}
	if lbl.set {
		return &procCred{uid: lbl.uid, gid: lbl.gid}
	}
	return &procCred{uid: s.uid, gid: s.gid, groups: s.groups}
}

// confined is true when QEMU drops root.
func (c *procCred) confined() bool { return c != nil && c.uid != 0 }

// sysProcAttr sets the child's credentials: setgroups, setgid, setuid in
// the forked child, which (all uids non-zero, no keep-caps) also clears
// its permitted, effective and ambient capabilities.
func (c *procCred) apply(a *syscall.SysProcAttr) {
	if !c.confined() {
		return
	}
	groups := make([]uint32, len(c.groups))
	for i, g := range c.groups {
		groups[i] = uint32(g)
	}
	a.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid), Groups: groups}
	a.AmbientCaps = nil
}

// Linux prctl options.
const (
	prSetNoNewPrivs = 38
	prCapbsetDrop   = 24
)

// lastCap is the highest capability number the kernel knows.
func lastCap() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 40
	}
	return n
}

// onSpawnThread runs start (which forks QEMU) on a thread of its own
// that is never given back to the runtime (it exits with the goroutine):
// there dev, when set, builds QEMU's private /dev in a new mount
// namespace (namespace.go), and for a confined QEMU no_new_privs is set
// and the capability bounding set emptied. All three are per-thread
// attributes a child inherits and that cannot be undone. cpus, when set,
// is the affinity the child starts with.
func onSpawnThread(cpus []int, confine bool, dev *privateDev, start func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if cpus != nil {
			if err := setAffinity(0, cpus); err != nil {
				done <- fmt.Errorf("cannot set CPU affinity on process: %v", err)
				return
			}
		}
		if dev != nil {
			if err := dev.build(); err != nil {
				done <- err
				return
			}
		}
		if confine {
			if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
				done <- fmt.Errorf("cannot set no_new_privs: %v", e)
				return
			}
			for c := 0; c <= lastCap(); c++ {
				if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prCapbsetDrop, uintptr(c), 0, 0, 0, 0); e != 0 && e != syscall.EINVAL {
					done <- fmt.Errorf("cannot drop capability %d: %v", c, e)
					return
				}
			}
		}
		done <- start()
	}()
	return <-done
}

// chownForQEMU gives a directory the guest's QEMU creates files in (its
// private directory, its channel directory) to the QEMU user, as libvirt's
// qemuProcessMakeDir does through the security manager, with what the
// daemon wrote there for QEMU to read (the master key, the swtpm socket,
// SEV blobs), as libvirt labels each of those.
func chownForQEMU(c *procCred, dirs ...string) error {
	if !c.confined() {
		return nil
	}
	for _, dir := range dirs {
		if err := os.Chown(dir, c.uid, c.gid); err != nil {
			return err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := os.Lchown(filepath.Join(dir, e.Name()), c.uid, c.gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// openDirsForQEMU lets a QEMU that is not root reach what it opens by name
// below the driver's directories (its private and channel directories,
// the varstores): search permission for others on the directories on the
// way, which list nothing. Files themselves get their owner at start.
func (d *Driver) openDirsForQEMU() {
	if !d.sec.enabled || d.sec.uid == 0 {
		return
	}
	st, rt := filepath.Join(d.cfg.StateDir, "qemu"), filepath.Join(d.cfg.RunDir, "qemu")
	for _, p := range []string{d.cfg.StateDir, st, d.dirs.nvram, d.cfg.RunDir, rt, d.dirs.domains,
		filepath.Join(rt, "channel"), d.dirs.channels} {
		_ = os.MkdirAll(p, 0o700)
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(p, fi.Mode().Perm()|0o011)
		}
	}
}
