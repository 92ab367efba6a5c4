package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// Each helper process runs as libvirt runs it: swtpm as qemu.conf's
// swtpm_user/swtpm_group ("tss" when the host has it, else root;
// qemuTPMEmulatorBuildCommand), with its state directory and log given
// to that user; passt as the guest's QEMU identity (qemuPasstStart runs
// it through the security manager with the domain's label); virtiofsd
// as root (qemuVirtioFSStart sets uid and gid 0: it needs root to serve
// files with their owners).

// swtpmIdentity resolves swtpm_user and swtpm_group. A nil result keeps
// root.
func swtpmIdentity(userName, groupName string) (*procCred, error) {
	if os.Geteuid() != 0 {
		return nil, nil // a session daemon's swtpm runs as its user
	}
	if userName == "" {
		if _, err := user.Lookup("tss"); err == nil {
			userName = "tss"
		}
	}
	if groupName == "" {
		if _, err := user.LookupGroup("tss"); err == nil {
			groupName = "tss"
		}
	}
	c := &procCred{}
	var err error
	if userName != "" {
		if c.uid, err = lookupUID(userName); err != nil {
			return nil, err
		}
	}
	if groupName != "" {
		if c.gid, err = lookupGID(groupName); err != nil {
			return nil, err
		}
	}
	if c.uid == 0 && c.gid == 0 {
		return nil, nil
	}
	return c, nil
}

// qemuCred is the identity QEMU will run as (nil: the daemon's), for the
// helpers that share it.
func (d *Driver) qemuCred(live *conf.Domain) *procCred {
	if !d.sec.enabled {
		return nil
	}
	g, err := parseGuestSeclabel(live)
	if err != nil {
		return nil
	}
	return d.sec.credFor(g)
}

// swtpmSocket is where a guest's swtpm listens: its private directory
// when swtpm runs as root, else RUNDIR/qemu/swtpm (libvirt's
// swtpmStateDir), which the swtpm user's group may write.
func (d *Driver) swtpmSocket(dir string) string {
	if d.swtpmCred == nil {
		return filepath.Join(dir, "swtpm.sock")
	}
	return filepath.Join(d.cfg.RunDir, "qemu", "swtpm", strings.TrimSuffix(filepath.Base(dir), ".d")+"-swtpm.sock")
}

// startSwtpmAs is startSwtpm for a swtpm that runs as swtpm_user
// (qemuTPMEmulatorStart): its state directory (0700) and files, and its
// log, are given to that user, the directories above get search
// permission for others, swtpm_setup and swtpm run as it, and the socket
// is given to QEMU's user. The daemon records swtpm's pid itself, in the
// guest's private directory, as libvirt writes the pidfile of the
// process it daemonizes.
func (d *Driver) startSwtpmAs(s *command.Swtpm, live *conf.Domain, dir, swtpm, state, logFile string) error {
	c := d.swtpmCred
	runDir := filepath.Dir(s.Socket)
	st := filepath.Join(d.cfg.StateDir, "qemu")
	for _, p := range []string{d.cfg.StateDir, st, d.dirs.swtpm, filepath.Dir(state), d.dirs.logs,
		d.cfg.RunDir, filepath.Join(d.cfg.RunDir, "qemu")} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(p, fi.Mode().Perm()|0o011)
		}
	}
	// The socket directory: QEMU's user owns it, swtpm's group writes it.
	qemuUID := 0
	if qc := d.qemuCred(live); qc.confined() {
		qemuUID = qc.uid
	}
	if err := os.MkdirAll(runDir, 0o770); err != nil {
		return errQEMU(virerr.ErrSystemError, "Unable to create directory %s: %v", runDir, err)
	}
	if err := os.Chown(runDir, qemuUID, c.gid); err != nil {
		return errQEMU(virerr.ErrSystemError, "Could not create directory %s as %d:%d: %v", runDir, qemuUID, c.gid, err)
	}
	_ = os.Chmod(runDir, 0o770)
	if err := chownTree(state, c.uid, c.gid); err != nil {
		return errQEMU(virerr.ErrInternalError, "Could not create directory %s as %d:%d: %v", state, c.uid, c.gid, err)
	}
	if f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		f.Close()
	}
	if err := os.Chown(logFile, c.uid, c.gid); err != nil {
		return errQEMU(virerr.ErrSystemError, "Could not chown on swtpm logfile %s: %v", logFile, err)
	}
	attr := &syscall.SysProcAttr{}
	c.apply(attr)
	if empty, _ := dirEmpty(state); empty {
		setup, err := exec.LookPath("swtpm_setup")
		if err != nil {
			return errQEMU(virerr.ErrInternalError, "Unable to find 'swtpm_setup' binary in $PATH: %v", err)
		}
		args := []string{}
		if s.Version == "2.0" {
			args = append(args, "--tpm2")
		}
		args = append(args, "--tpm-state", state, "--vmid", live.Name+":"+live.UUID.String(), "--logfile", logFile,
			"--createek", "--create-ek-cert", "--create-platform-cert", "--lock-nvram", "--not-overwrite")
		cmd := exec.Command(setup)
		cmd.SysProcAttr = attr
		if s.SecretUUID != "" {
			// Encrypted from its creation on, as startSwtpm.
			keys, done, err := d.swtpmKeys(cmd, s.SecretUUID, 1)
			if err != nil {
				return err
			}
			defer done()
			args = append(args, "--pwdfile-fd", strconv.Itoa(keys[0]), "--cipher", "aes-256-cbc")
		}
		cmd.Args = append(cmd.Args, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return errQEMU(virerr.ErrInternalError, "Could not run '%s': %v; Check error log '%s' for details. %s",
				setup, err, logFile, strings.TrimSpace(string(out)))
		}
	}
	os.Remove(s.Socket)
	args := []string{swtpm, "socket", "--ctrl", "type=unixio,path=" + s.Socket + ",mode=0600",
		"--tpmstate", "dir=" + state + ",mode=0600", "--log", "file=" + logFile, "--terminate"}
	if s.Version == "2.0" {
		args = append(args, "--tpm2")
	}
	var extra []*os.File
	if s.SecretUUID != "" {
		// The state and migration keys through pipes, as startSwtpm.
		keyCmd := &exec.Cmd{}
		keys, done, err := d.swtpmKeys(keyCmd, s.SecretUUID, 2)
		if err != nil {
			return err
		}
		defer done()
		extra = keyCmd.ExtraFiles
		args = append(args, "--key", fmt.Sprintf("pwdfd=%d,mode=aes-256-cbc", keys[0]),
			"--migration-key", fmt.Sprintf("pwdfd=%d,mode=aes-256-cbc", keys[1]))
	}
	proc, err := spawnAs(c, args, nil, logFile, extra...)
	if err != nil {
		return errQEMU(virerr.ErrInternalError, "swtpm failed to start: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "swtpm.pid"), []byte(fmt.Sprintf("%d\n", proc.pid)), 0o600); err != nil {
		proc.kill(time.Second)
		return errQEMU(virerr.ErrSystemError, "cannot write the pid of swtpm: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Listening, not only bound: QEMU connects at once.
		if unixListening(s.Socket) {
			break
		}
		if proc.isExited() || time.Now().After(deadline) {
			proc.kill(time.Second)
			return errQEMU(virerr.ErrInternalError, "swtpm socket %s did not appear%s", s.Socket, logTail(logFile))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// QEMU's user connects to it (libvirt labels the socket).
	if qemuUID != 0 {
		if err := os.Chown(s.Socket, qemuUID, -1); err != nil {
			proc.kill(time.Second)
			return errQEMU(virerr.ErrSystemError, "cannot give the swtpm socket to QEMU's user: %v", err)
		}
	}
	return nil
}

// chownTree gives dir and everything below it to uid:gid
// (virFileChownFiles, one level deeper).
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// unixListening is true once a unix socket at path listens (its line in
// /proc/net/unix has __SO_ACCEPTCON, flags 00010000): a bound socket
// file appears before the listen call.
func unixListening(path string) bool {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		_, err := os.Stat(path)
		return err == nil
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 8 && f[7] == path && f[3] == "00010000" {
			return true
		}
	}
	return false
}
