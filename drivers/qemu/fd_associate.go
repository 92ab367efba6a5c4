package qemu

import (
	"os"
	"sync"
	"syscall"

	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/uuid"
	"govirt/virerr"
)

// Descriptors a client associates with a guest under a group name
// (virDomainFDAssociate, virsh dom-fd-associate), for disks whose
// <source file='...' fdgroup='NAME'/> QEMU opens through them, as
// libvirt 9.0's qemuDomainFDAssociate: the group lives as long as the
// connection that passed it (or until the same name is associated
// again), and a start hands QEMU copies, so the guest keeps its images
// open after the client went away.

const (
	fdAssociateSeclabelRestore  = 1 << 0 // VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_RESTORE
	fdAssociateSeclabelWritable = 1 << 1 // VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_WRITABLE
)

// fdGroup is one associated group: the daemon's own copies of the
// client's descriptors.
type fdGroup struct {
	files    []*os.File
	owner    *conn // the connection that passed them
	writable bool  // SECLABEL_WRITABLE: the image may be opened read-write
}

func (g *fdGroup) close() {
	for _, f := range g.files {
		f.Close()
	}
}

// fdStore holds the groups of every guest, keyed by the guest object (a
// guest undefined and defined again starts without groups, as libvirt's
// per-object hash).
type fdStore struct {
	mu sync.Mutex
	m  map[*vm]map[string]*fdGroup
}

func (s *fdStore) put(v *vm, name string, g *fdGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[*vm]map[string]*fdGroup{}
	}
	if s.m[v] == nil {
		s.m[v] = map[string]*fdGroup{}
	}
	if old := s.m[v][name]; old != nil {
		old.close()
	}
	s.m[v][name] = g
}

// dup returns fresh copies of the group's descriptors for one use (the
// caller closes them), and whether the group was passed as writable.
func (s *fdStore) dup(v *vm, name string) ([]*os.File, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.m[v][name]
	if g == nil {
		return nil, false, errQEMU(virerr.ErrInvalidArg, "file descriptor group '%s' was not associated with the domain", name)
	}
	out := make([]*os.File, 0, len(g.files))
	for _, f := range g.files {
		c, err := dupFile(f)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, false, errQEMU(virerr.ErrInternalError, "failed to duplicate file descriptor for fd group '%s'", name)
		}
		out = append(out, c)
	}
	return out, g.writable, nil
}

// connClosed drops the groups the connection passed
// (qemuDomainFDHashCloseConnect).
func (s *fdStore) connClosed(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, groups := range s.m {
		for name, g := range groups {
			if g.owner == c {
				g.close()
				delete(groups, name)
			}
		}
		if len(groups) == 0 {
			delete(s.m, v)
		}
	}
}

func dupFile(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var derr error
	if err := sc.Control(func(fd uintptr) { nfd, derr = dupCloexec(int(fd)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

func (c *conn) DomainFDAssociate(h driver.Domain, name string, files []*os.File, flags uint32) error {
	if bad := flags &^ (fdAssociateSeclabelRestore | fdAssociateSeclabelWritable); bad != 0 {
		return errFlagsFn(bad, "qemuDomainFDAssociate")
	}
	if len(files) == 0 {
		return nil
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	g := &fdGroup{owner: c.root(), writable: flags&fdAssociateSeclabelWritable != 0}
	for i, f := range files {
		d, err := dupFile(f)
		if err != nil {
			g.close()
			return errQEMU(virerr.ErrSystemError, "failed to duplicate passed fd with index '%d': %s", i, sysErrText(err))
		}
		g.files = append(g.files, d)
	}
	c.d.fdGroups.put(v, name, g)
	return nil
}

// dupCloexec is dup(2) with close-on-exec, so a copy reaches only the QEMU
// it is handed to.
func dupCloexec(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// fdGroupPaths is command.Paths.FDGroup for a start of the guest with
// uuid: copies of the group's descriptors join the files QEMU inherits.
func (d *Driver) fdGroupPaths(id uuid.UUID, files *passedFiles) func(string) (command.FDGroup, error) {
	return func(name string) (command.FDGroup, error) {
		// A guest not registered yet (create) has no groups.
		v, _ := d.doms.get(driver.Domain{UUID: id})
		fs, writable, err := d.fdGroups.dup(v, name)
		if err != nil {
			return command.FDGroup{}, err
		}
		g := command.FDGroup{Writable: writable}
		for _, f := range fs {
			g.FDs = append(g.FDs, files.add(f))
		}
		return g, nil
	}
}
