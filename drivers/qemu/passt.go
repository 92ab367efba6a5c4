package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"govirt/drivers/internal/safepath"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// passt serves user interfaces with <backend type='passt'> (libvirt's
// qemuPasstStart): started before QEMU with --one-off, so it quits once
// QEMU, its only client, is gone; it runs in the foreground of its own
// session and is recorded in DomainDir/ALIAS-passt.pid ("pid starttime")
// so that stopping the guest stops it even after a daemon restart.

func passtPidFile(dir, alias string) (string, error) {
	return safepath.Join(dir, alias, "-passt.pid")
}

// startPasst starts the passt of every interface that has one; on
// failure the ones started are stopped.
func (d *Driver) startPasst(name, dir string, ps []command.Passt, cred *procCred) error {
	for _, p := range ps {
		if err := d.startOnePasst(name, dir, p, cred); err != nil {
			stopPasst(dir)
			return err
		}
	}
	return nil
}

func (d *Driver) startOnePasst(name, dir string, p command.Passt, cred *procCred) error {
	bin, err := exec.LookPath("passt")
	if err != nil {
		return errQEMU(virerr.ErrInternalError, "Could not start 'passt': passt is not installed")
	}
	pidFile, err := passtPidFile(dir, p.Alias)
	if err != nil {
		return err
	}
	logPath, err := safepath.Join(d.dirs.logs, name+"-"+p.Alias, "-passt.log")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.Socket), 0o700); err != nil {
		return errQEMU(virerr.ErrSystemError, "Unable to create directory %s: %v", filepath.Dir(p.Socket), err)
	}
	os.Remove(p.Socket)
	// As libvirt, passt runs as QEMU's identity: a confined QEMU's
	// user, who owns the directory its socket is created in. passt
	// started as root would become nobody before it binds its socket,
	// which then could not be created in the guest's private directory:
	// with QEMU as root, passt keeps root (inside its own sandbox
	// namespaces) instead.
	argv := []string{bin, "--foreground", "--runas", "0"}
	if cred.confined() {
		if err := chownForQEMU(cred, filepath.Dir(p.Socket)); err != nil {
			return errQEMU(virerr.ErrSystemError, "cannot give '%s' to QEMU's user: %v", filepath.Dir(p.Socket), err)
		}
		argv = argv[:2]
	}
	argv = append(argv, p.Args...)
	proc, err := spawnAs(cred, argv, nil, logPath)
	if err != nil {
		return errQEMU(virerr.ErrInternalError, "Could not start 'passt': %v", err)
	}
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %d\n", proc.pid, proc.start)), 0o600); err != nil {
		proc.kill(time.Second)
		return errQEMU(virerr.ErrSystemError, "cannot write '%s': %v", pidFile, err)
	}
	// QEMU connects at once: wait for passt's socket.
	for i := 0; ; i++ {
		if _, err := os.Stat(p.Socket); err == nil {
			break
		}
		select {
		case <-proc.exited:
			os.Remove(pidFile)
			return errQEMU(virerr.ErrInternalError, "Could not start 'passt'.%s", logTail(logPath))
		case <-time.After(10 * time.Millisecond):
		}
		if i > 500 {
			proc.kill(time.Second)
			os.Remove(pidFile)
			return errQEMU(virerr.ErrInternalError, "Could not start 'passt': no socket %s", p.Socket)
		}
	}
	d.log.Debug("passt started", "domain", name, "interface", p.Alias, "pid", proc.pid)
	return nil
}

// stopPasst stops every passt recorded in dir.
func stopPasst(dir string) {
	recs, _ := filepath.Glob(filepath.Join(dir, "*-passt.pid"))
	for _, r := range recs {
		if data, err := os.ReadFile(r); err == nil {
			if f := strings.Fields(string(data)); len(f) == 2 {
				pid, _ := strconv.Atoi(f[0])
				start, _ := strconv.ParseUint(f[1], 10, 64)
				if p, err := adopt(pid, start); err == nil {
					p.kill(killGrace)
				}
			}
		}
		os.Remove(r)
	}
}
