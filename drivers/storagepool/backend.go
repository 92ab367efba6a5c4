package storagepool

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"govirt/virerr"
)

// backend is what differs between pool types: how the pool itself is
// built, started and stopped, and how its volumes are kept. "dir" and
// "fs" keep volumes as files in the target directory ("fs" mounts a block
// device there first); "logical" keeps them as LVM logical volumes of a
// volume group. Other pool types are refused with libvirt's "missing
// backend" error.
//
// No method runs under the manager's lock: pool methods run with the
// pool's operation lock held (see Manager.lockPool), on a definition that
// is never changed; volume methods on a copy of the volume record taken
// under the lock (see Manager.busyVol). What they read is applied to the
// records under the lock afterwards.
type backend interface {
	// check tells whether a pool found active at the last daemon run
	// still is (the directory exists, the file system is mounted).
	check(d *poolDef) (bool, error)
	build(d *poolDef, flags uint32) error
	start(d *poolDef) error
	stop(d *poolDef) error
	delete(d *poolDef, flags uint32) error
	// scan reads the pool's volumes and sizes and returns what to
	// apply to its record under the lock.
	scan(m *Manager, d *poolDef) (func(p *pool), error)
	// sizes reads the pool's capacity, allocation and available where
	// that is cheap (statfs); ok is false for pools that keep the last
	// scan's.
	sizes(d *poolDef) (sz poolSizes, ok bool, err error)

	volBackend
}

// volBackend is how a pool type keeps its volumes.
type volBackend interface {
	// checkVolReq validates and completes a new volume's format.
	checkVolReq(r *volReq) error
	// createVol makes a new volume and returns its record; on failure
	// nothing of it is left behind.
	createVol(m *Manager, p *poolDef, r *volReq, prealloc bool) (*vol, error)
	// cloneVol makes a new volume holding src's data (src is the source
	// volume as its own pool's backend reads it).
	cloneVol(m *Manager, p *poolDef, r *volReq, src *volStat) (*vol, error)
	// statVol reads a volume's sizes, format and file attributes.
	statVol(m *Manager, v *vol) (*volStat, error)
	removeVol(m *Manager, v *vol) error
	wipeVol(m *Manager, v *vol) error
	// resizeVol sets a volume's capacity; st is its state before.
	resizeVol(m *Manager, v *vol, st *volStat, capacity uint64, flags uint32) error
	// reread reads, without the lock, what a volume operation changed
	// in the pool (logical volumes and volume group sizes) and returns
	// what to apply to the pool under the lock; nil when nothing is kept.
	reread(m *Manager, d *poolDef) (func(p *pool), error)
}

// Pool build flags (virStoragePoolBuildFlags).
const (
	buildNew         = 0
	buildRepair      = 1 << 0
	buildResize      = 1 << 1
	buildNoOverwrite = 1 << 2
	buildOverwrite   = 1 << 3
)

// Default modes (VIR_STORAGE_DEFAULT_POOL_PERM_MODE / _VOL_PERM_MODE).
const (
	defaultPoolMode = 0o711
	defaultVolMode  = 0o600
)

func backendFor(typ string) backend {
	switch typ {
	case "dir":
		return fileBackend{}
	case "fs":
		return fileBackend{mount: true}
	case "logical":
		return logicalBackend{}
	}
	return nil
}

type fileBackend struct{ mount bool }

func (b fileBackend) check(d *poolDef) (bool, error) {
	if !b.mount {
		_, err := os.Stat(d.target)
		return err == nil, nil
	}
	if err := validFS(d); err != nil {
		return false, err
	}
	return isMounted(d)
}

// build creates the target directory (parents with default modes) and
// applies the configured permissions, as virStorageBackendBuildLocal; fs
// pools also get a file system when asked to.
func (b fileBackend) build(d *poolDef, flags uint32) error {
	if flags&buildOverwrite != 0 && flags&buildNoOverwrite != 0 {
		return errStorage(virerr.ErrInvalidArg, "%s",
			"Flags 'overwrite' and 'no-overwrite' are mutually exclusive")
	}
	if !b.mount && flags&(buildOverwrite|buildNoOverwrite) != 0 {
		return errStorage(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function virStorageBackendFileSystemBuild", flags)
	}
	if !filepath.IsAbs(d.target) {
		return errStorage(virerr.ErrInvalidArg, "path '%s' is not absolute", d.target)
	}
	if parent := filepath.Dir(d.target); parent != "/" {
		if err := os.MkdirAll(parent, 0o777); err != nil {
			return errSys(err, "cannot create path '%s'", parent)
		}
	}
	mode := d.perms.mode
	_, statErr := os.Stat(d.target)
	if mode == -1 && statErr != nil {
		mode = defaultPoolMode
	}
	if err := os.Mkdir(d.target, 0o700); err != nil && !os.IsExist(err) {
		return errSys(err, "cannot create path '%s'", d.target)
	}
	if err := applyPerms(d.target, perms{mode: mode, uid: d.perms.uid, gid: d.perms.gid}); err != nil {
		return err
	}
	if b.mount && flags&(buildOverwrite|buildNoOverwrite) != 0 {
		return makeFS(d, flags)
	}
	return nil
}

// applyPerms sets mode and ownership where given (-1 leaves them alone).
func applyPerms(path string, p perms) error {
	if p.mode != -1 {
		if err := os.Chmod(path, os.FileMode(p.mode)); err != nil {
			return errSys(err, "cannot set mode of '%s' to %04o", path, p.mode)
		}
	}
	if p.uid != -1 || p.gid != -1 {
		if err := os.Chown(path, int(p.uid), int(p.gid)); err != nil {
			return errSys(err, "cannot chown '%s' to (%d, %d)", path, p.uid, p.gid)
		}
	}
	return nil
}

func (b fileBackend) start(d *poolDef) error {
	if !b.mount {
		// libvirt's dir backend only needs the directory to be there;
		// the refresh that follows reports it when it is not.
		return nil
	}
	if err := validFS(d); err != nil {
		return err
	}
	if on, err := isMounted(d); err != nil || on {
		return err
	}
	args := []string{"-o", "nodev,nosuid,noexec"}
	if d.srcFormat != "" {
		args = append(args, "-t", d.srcFormat)
	}
	return run("mount", append(args, d.devices[0], d.target)...)
}

func (b fileBackend) stop(d *poolDef) error {
	if !b.mount {
		return nil
	}
	if err := validFS(d); err != nil {
		return err
	}
	if on, err := isMounted(d); err != nil || !on {
		return err
	}
	return run("umount", d.target)
}

// delete removes the (empty) target directory; a full one is an error,
// as rmdir(2) makes it.
func (b fileBackend) delete(d *poolDef, flags uint32) error {
	if flags != 0 {
		return errStorage(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function virStorageBackendDeleteLocal", flags)
	}
	if err := syscall.Rmdir(d.target); err != nil && err != syscall.ENOENT {
		return errSys(err, "failed to remove pool '%s'", d.target)
	}
	return nil
}

func validFS(d *poolDef) error {
	switch len(d.devices) {
	case 0:
		return errStorage(virerr.ErrInternalError, "%s", "missing source device")
	case 1:
		return nil
	}
	return errStorage(virerr.ErrConfigUnsupported, "%s", "expected exactly 1 device for the storage pool")
}

// isMounted looks the target up in the mount table; comparing the
// resolved source too, as libvirt does, would miss loop devices mounted
// by another name, so the target alone decides.
func isMounted(d *poolDef) (bool, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return false, errSys(err, "cannot read mount list '%s'", "/proc/self/mounts")
	}
	defer f.Close()
	target := d.target
	if r, err := filepath.EvalSymlinks(target); err == nil {
		target = r
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && unescapeMount(fields[1]) == target {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for space) of /proc/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// makeFS runs mkfs on the source device: always with OVERWRITE, only
// when blkid finds no file system with NO_OVERWRITE.
func makeFS(d *poolDef, flags uint32) error {
	if len(d.devices) == 0 {
		return errStorage(virerr.ErrOperationInvalid, "No source device specified when formatting pool '%s'", d.name)
	}
	dev, format := d.devices[0], d.srcFormat
	if _, err := os.Stat(dev); err != nil {
		return errStorage(virerr.ErrOperationInvalid, "Source device does not exist when formatting pool '%s'", d.name)
	}
	if format == "" || format == "auto" {
		format = "ext4"
	}
	if flags&buildNoOverwrite != 0 {
		out, _ := exec.Command("blkid", "-o", "value", "-s", "TYPE", dev).Output()
		if found := strings.TrimSpace(string(out)); found != "" {
			return errStorage(virerr.ErrStoragePoolBuilt, "Device '%s' already formatted using '%s'", dev, found)
		}
	}
	args := []string{"-t", format}
	if format == "ext2" || format == "ext3" || format == "ext4" {
		args = append(args, "-F") // mkfs.ext* asks before using a whole device
	}
	return run("mkfs", append(args, dev)...)
}

// run executes a helper as virCommandRun does and reports its failure
// the same way.
func run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// libvirt's virCommandRun reports what the command wrote to stderr
	// (qemu-img's "Formatting ..." on stdout is not an error).
	_, err := cmd.Output()
	if err == nil {
		return nil
	}
	full := strings.Join(append([]string{name}, args...), " ")
	if ee, ok := err.(*exec.ExitError); ok {
		return errStorage(virerr.ErrInternalError, "Child process (%s) unexpected exit status %d: %s",
			full, ee.ExitCode(), strings.TrimSpace(stderr.String()))
	}
	return errStorage(virerr.ErrInternalError, "Cannot run %s: %v", full, err)
}
