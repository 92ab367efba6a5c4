package qemu

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"govirt/drivers/internal/safepath"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// virtiofsd: a <filesystem> with <driver type='virtiofs'> and no
// <source socket> is served by a virtiofsd the driver runs for the guest,
// as libvirt's qemuVirtioFSStart: the daemon creates the listening
// socket, passes it to virtiofsd (--fd=3), and QEMU connects to it. Each
// virtiofsd is recorded in DomainDir/ALIAS-fs.pid ("pid starttime"), so
// a restarted daemon still stops the right process when the guest stops,
// and a reused pid is never signalled.

// vhostUserDescDirs are where QEMU's vhost-user backend descriptions
// live (docs/interop/vhost-user.json), searched as libvirt does: the
// administrator's directories before the distribution's.
var vhostUserDescDirs = []string{"/etc/qemu/vhost-user", "/usr/share/qemu/vhost-user"}

// virtiofsdFallbacks are the usual install paths when no description
// names one (upstream's /usr/libexec, Debian's qemu-system-common).
var virtiofsdFallbacks = []string{"/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"}

// findVirtiofsd returns the host's virtiofsd: the first vhost-user
// description of type "fs" by file name, else a known install path.
func findVirtiofsd() string {
	var files []string
	for _, d := range vhostUserDescDirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.json"))
		files = append(files, m...)
	}
	sort.SliceStable(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var desc struct{ Type, Binary string }
		if json.Unmarshal(data, &desc) == nil && desc.Type == "fs" && isExecutable(desc.Binary) {
			return desc.Binary
		}
	}
	for _, p := range virtiofsdFallbacks {
		if isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// virtiofsdPidFile is where a filesystem's virtiofsd is recorded.
func virtiofsdPidFile(dir, alias string) (string, error) {
	return safepath.Join(dir, alias, "-fs.pid")
}

// startVirtioFS starts the virtiofsd of every filesystem that needs one;
// on failure the ones already started are stopped again.
func (d *Driver) startVirtioFS(name, dir string, fss []command.VirtioFS) error {
	for _, fs := range fss {
		if err := d.startOneVirtioFS(name, dir, fs); err != nil {
			stopVirtioFS(dir)
			return err
		}
	}
	return nil
}

func (d *Driver) startOneVirtioFS(name, dir string, fs command.VirtioFS) error {
	bin := fs.Binary
	if bin == "" {
		bin = findVirtiofsd()
		if bin == "" {
			return errQEMU(virerr.ErrOperationFailed, "Unable to find a satisfying virtiofsd")
		}
	}
	if !isExecutable(bin) {
		return errQEMU(virerr.ErrInternalError, "virtiofsd binary '%s' is not executable", bin)
	}
	if _, err := os.Stat(fs.Source); err != nil {
		return errQEMU(virerr.ErrInternalError, "the virtiofs export directory '%s' does not exist", fs.Source)
	}
	pidFile, err := virtiofsdPidFile(dir, fs.Alias)
	if err != nil {
		return err
	}
	logPath, err := safepath.Join(d.dirs.logs, name+"-"+fs.Alias, "-virtiofsd.log")
	if err != nil {
		return err
	}
	os.Remove(fs.Socket)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: fs.Socket, Net: "unix"})
	if err != nil {
		return errQEMU(virerr.ErrSystemError, "Failed to bind socket to '%s': %v", fs.Socket, err)
	}
	// The socket file stays when the listener is closed: virtiofsd owns
	// the listening descriptor from now on.
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot pass the socket '%s' to virtiofsd: %v", fs.Socket, err)
	}
	argv := append([]string{bin, "--fd=3"}, fs.Args...)
	proc, err := spawn(argv, nil, logPath, f)
	f.Close()
	if err != nil {
		os.Remove(fs.Socket)
		return errQEMU(virerr.ErrInternalError, "Could not start 'virtiofsd': %v", err)
	}
	rec := fmt.Sprintf("%d %d\n", proc.pid, proc.start)
	if err := os.WriteFile(pidFile, []byte(rec), 0o600); err != nil {
		proc.kill(time.Second)
		os.Remove(fs.Socket)
		return errQEMU(virerr.ErrSystemError, "cannot write '%s': %v", pidFile, err)
	}
	// virtiofsd checks its options and the export before serving; one
	// that refused them is gone within moments.
	select {
	case <-proc.exited:
		os.Remove(pidFile)
		os.Remove(fs.Socket)
		return errQEMU(virerr.ErrSystemError, "virtiofsd died unexpectedly%s", logTail(logPath))
	case <-time.After(100 * time.Millisecond):
	}
	d.log.Debug("virtiofsd started", "domain", name, "fs", fs.Alias, "pid", proc.pid)
	return nil
}

// stopVirtioFS stops every virtiofsd recorded in dir (the guest stopped,
// or its start failed) and removes the records and sockets.
func stopVirtioFS(dir string) {
	recs, _ := filepath.Glob(filepath.Join(dir, "*-fs.pid"))
	for _, r := range recs {
		data, err := os.ReadFile(r)
		if err == nil {
			f := strings.Fields(string(data))
			if len(f) == 2 {
				pid, _ := strconv.Atoi(f[0])
				start, _ := strconv.ParseUint(f[1], 10, 64)
				if p, err := adopt(pid, start); err == nil {
					p.kill(killGrace)
				}
			}
		}
		os.Remove(r)
		os.Remove(strings.TrimSuffix(r, ".pid") + ".sock")
	}
}
