package qemu

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/internal/cgroup"
	"govirt/uuid"
	"govirt/virerr"
)

// What a guest's platform needs on the host before QEMU starts (issue 13):
// the UEFI varstore created from its template (libvirt's
// qemuPrepareNVRAM), the swtpm of an emulated TPM (qemuTPMEmulatorStart)
// and the host files QEMU gets as descriptors (TPM passthrough).

// platformPaths fills the host side of p: the builder's view of the host
// with govirt's varstore directory, the swtpm socket and descriptor
// passing. The files opened for QEMU are appended to *files; QEMU sees
// them from descriptor monitorFD+1 on, after the monitor socket.
func (d *Driver) platformPaths(p *command.Paths, dir string, files *passedFiles) {
	h := command.SystemHost()
	h.NVRAMDir = d.dirs.nvram
	h.MemoryBackingDir = filepath.Join(d.cfg.StateDir, "qemu", "ram")
	p.Host = &h
	p.SwtpmSocket = d.swtpmSocket(dir)
	p.OpenFD = files.open
}

// preparePlatform creates the varstore, writes the files QEMU reads (SEV
// blobs) and starts swtpm for cl.
//
// resetNVRAM (start --reset-nvram) recreates the varstore from its
// template, as libvirt's VIR_QEMU_PROCESS_START_RESET_NVRAM.
func (d *Driver) preparePlatform(cl *command.Cmdline, live *conf.Domain, dir string, resetNVRAM bool) error {
	if resetNVRAM {
		if cl.NVRAM == "" {
			if n := live.Tree().Child("os"); n != nil && n.Child("nvram") != nil {
				if t, _ := n.Child("nvram").Attr("type"); t == "network" {
					return errQEMU(virerr.ErrOperationUnsupported, "resetting of nvram is not supported with network backed nvram")
				}
			}
		} else if err := os.Remove(cl.NVRAM); err != nil && !os.IsNotExist(err) {
			return errQEMU(virerr.ErrSystemError, "Unable to remove file '%s': %v", cl.NVRAM, err)
		}
	}
	if err := prepareNVRAM(cl.NVRAM, cl.NVRAMTemplate); err != nil {
		return err
	}
	for _, dir := range cl.MemoryDirs {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return errQEMU(virerr.ErrSystemError, "Unable to create directory %s: %v", dir, err)
		}
	}
	// Remembered in the run directory, which outlives a daemon restart,
	// so the stop that ends this run removes them (stopPlatform).
	if len(cl.MemoryDirs) > 0 {
		// Files first: a directory goes once it is empty.
		paths := append(append([]string{}, cl.MemoryFiles...), cl.MemoryDirs...)
		os.WriteFile(filepath.Join(dir, "memory-dirs"), []byte(strings.Join(paths, "\n")+"\n"), 0o600)
	}
	for _, f := range cl.WriteFiles {
		if err := os.WriteFile(f.Path, f.Data, 0o600); err != nil {
			return errQEMU(virerr.ErrSystemError, "Unable to write to file '%s': %v", f.Path, err)
		}
	}
	if cl.Swtpm != nil {
		return d.startSwtpm(cl.Swtpm, live, dir)
	}
	return nil
}

// prepareNVRAM copies the template to a varstore that does not exist yet.
func prepareNVRAM(nvram, template string) error {
	if nvram == "" {
		return nil
	}
	if _, err := os.Stat(nvram); err == nil {
		return nil
	}
	if template == "" {
		return errQEMU(virerr.ErrOperationFailed, "unable to find any master var store for loader")
	}
	src, err := os.Open(template)
	if err != nil {
		return errQEMU(virerr.ErrSystemError, "Failed to open file '%s': %v", template, err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(nvram), 0o755); err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot create the directory of '%s': %v", nvram, err)
	}
	// Written under a temporary name and renamed, so an interrupted copy
	// never passes for a varstore.
	tmp := nvram + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return errQEMU(virerr.ErrSystemError, "Failed to create file '%s': %v", nvram, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(tmp)
		return errQEMU(virerr.ErrSystemError, "Unable to write to file '%s': %v", nvram, err)
	}
	if err := dst.Sync(); err != nil || dst.Close() != nil {
		os.Remove(tmp)
		return errQEMU(virerr.ErrSystemError, "Unable to write to file '%s'", nvram)
	}
	return os.Rename(tmp, nvram)
}

// swtpmStateDir is where a guest's TPM keeps its state across runs,
// StateDir/qemu/swtpm/UUID/tpm2 (libvirt's swtpm storage layout).
func (d *Driver) swtpmStateDir(uuid, version string) string {
	sub := "tpm1.2"
	if version == "2.0" {
		sub = "tpm2"
	}
	return filepath.Join(d.dirs.swtpm, uuid, sub)
}

func (d *Driver) startSwtpm(s *command.Swtpm, live *conf.Domain, dir string) error {
	swtpm, err := exec.LookPath("swtpm")
	if err != nil {
		return errQEMU(virerr.ErrInternalError, "Unable to find 'swtpm' binary in $PATH: %v", err)
	}
	uuid := live.UUID.String()
	state := d.swtpmStateDir(uuid, s.Version)
	logFile, err := d.logPath(live.Name + "-swtpm")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return errQEMU(virerr.ErrSystemError, "Unable to create directory %s: %v", state, err)
	}
	if d.swtpmCred != nil {
		return d.startSwtpmAs(s, live, dir, swtpm, state, logFile)
	}
	if empty, _ := dirEmpty(state); empty {
		setup, err := exec.LookPath("swtpm_setup")
		if err != nil {
			return errQEMU(virerr.ErrInternalError, "Unable to find 'swtpm_setup' binary in $PATH: %v", err)
		}
		args := []string{}
		if s.Version == "2.0" {
			args = append(args, "--tpm2")
		}
		args = append(args, "--tpm-state", state, "--vmid", live.Name+":"+uuid, "--logfile", logFile,
			"--createek", "--create-ek-cert", "--create-platform-cert", "--lock-nvram", "--not-overwrite")
		cmd := exec.Command(setup)
		if s.SecretUUID != "" {
			// qemuTPMVirCommandAddEncryption: the state is encrypted
			// from its creation on.
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
	pidFile := filepath.Join(dir, "swtpm.pid")
	args := []string{"socket", "--ctrl", "type=unixio,path=" + s.Socket + ",mode=0600",
		"--tpmstate", "dir=" + state + ",mode=0600", "--log", "file=" + logFile, "--terminate"}
	if s.Version == "2.0" {
		args = append(args, "--tpm2")
	}
	args = append(args, "--daemon", "--pid", "file="+pidFile)
	cmd := exec.Command(swtpm)
	if s.SecretUUID != "" {
		// qemuTPMEmulatorBuildCommand: the state key and the migration
		// key, each a passphrase swtpm reads from a pipe of its own (never
		// on its command line).
		keys, done, err := d.swtpmKeys(cmd, s.SecretUUID, 2)
		if err != nil {
			return err
		}
		defer done()
		args = append(args, "--key", fmt.Sprintf("pwdfd=%d,mode=aes-256-cbc", keys[0]),
			"--migration-key", fmt.Sprintf("pwdfd=%d,mode=aes-256-cbc", keys[1]))
	}
	cmd.Args = append(cmd.Args, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return errQEMU(virerr.ErrInternalError, "swtpm failed to start: %v: %s", err, strings.TrimSpace(string(out)))
	}
	// --daemon returns once the process forked; its socket follows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(s.Socket); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			stopSwtpm(dir)
			return errQEMU(virerr.ErrInternalError, "swtpm socket %s did not appear", s.Socket)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// swtpmKeys is qemuTPMSetupEncryption n times: the value of the vTPM
// secret (usage type vtpm) goes into a pipe per key, whose read ends
// cmd inherits (virCommandSetSendBuffer); it returns the descriptor
// numbers the child sees and a function closing the parent's read ends,
// called once the child ran. A passphrase fits a pipe's buffer, so the
// writes never wait for the child.
func (d *Driver) swtpmKeys(cmd *exec.Cmd, secretUUID string, n int) ([]int, func(), error) {
	if _, err := uuid.Parse(secretUUID); err != nil {
		return nil, nil, errQEMU(virerr.ErrXMLError, "Unable to parse secret uuid '%s'", secretUUID)
	}
	value, err := d.secrets().Value(secretUUID, "vtpm", "")
	if err != nil {
		return nil, nil, err
	}
	defer clear(value)
	var fds []int
	var reads []*os.File
	done := func() {
		for _, r := range reads {
			r.Close()
		}
	}
	for i := 0; i < n; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			done()
			return nil, nil, errQEMU(virerr.ErrSystemError, "cannot create a pipe for the TPM key: %v", err)
		}
		_, werr := w.Write(value)
		w.Close()
		reads = append(reads, r)
		if werr != nil {
			done()
			return nil, nil, errQEMU(virerr.ErrSystemError, "cannot pass the TPM key: %v", werr)
		}
		fds = append(fds, 3+len(cmd.ExtraFiles))
		cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	}
	return fds, done, nil
}

// stopPlatform undoes preparePlatform's per-run host state when a run
// ends: the swtpm and the directories of file-backed RAM (libvirt's
// qemuProcessBuildDestroyMemoryPaths; QEMU has unlinked its files).
func stopPlatform(dir string) {
	stopSwtpm(dir)
	data, err := os.ReadFile(filepath.Join(dir, "memory-dirs"))
	if err != nil {
		return
	}
	for _, d := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if d != "" {
			os.Remove(d) // a RAM file, or a directory once empty
		}
	}
}

// stopSwtpm ends the swtpm of a run that QEMU never connected to or that
// outlived it (--terminate ends it when QEMU disconnects), and waits a
// moment for it to go: it is in the guest's cgroup, removed next.
func stopSwtpm(dir string) {
	pid := swtpmPID(dir)
	if pid <= 0 {
		return
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return
	}
	for i := 0; i < 100; i++ {
		if !isSwtpm(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// swtpmPID is the pid of the guest's running swtpm from its pid file (0
// without one or when that process is no swtpm any more).
func swtpmPID(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, "swtpm.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	// Only a swtpm: the pid may have been reused since.
	if err != nil || pid <= 1 || !isSwtpm(pid) {
		return 0
	}
	return pid
}

// isSwtpm: pid is a live swtpm (not a zombie, which is past exiting).
func isSwtpm(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "swtpm" {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := strings.LastIndexByte(string(st), ')'); err == nil && i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
		return false
	}
	return true
}

// placeHelpers is qemuSetupCgroupForExtDevices: once QEMU is in its
// emulator group, the guest's swtpm, passt and virtiofsd processes join
// it there, so the guest's device list, memory and CPU limits hold them
// too. As libvirt, only when the group has the cpu or cpuset controller;
// a swtpm whose pid cannot be found fails the start, while a passt or
// virtiofsd that is gone is skipped (virPidFileReadPathIfAlive).
func (d *Driver) placeHelpers(v *vm, dir string, swtpm bool) error {
	g := guestCgroup(v)
	if g == nil || (!g.Has(cgroup.CPU) && !g.Has(cgroup.CPUSet)) {
		return nil
	}
	var pids []int
	if swtpm {
		pid := swtpmPID(dir)
		if pid == 0 {
			return errQEMU(virerr.ErrInternalError, "Could not get process id of swtpm")
		}
		pids = append(pids, pid)
	}
	for _, pattern := range []string{"*-passt.pid", "*-fs.pid"} {
		recs, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, r := range recs {
			data, err := os.ReadFile(r)
			if f := strings.Fields(string(data)); err == nil && len(f) == 2 {
				pid, _ := strconv.Atoi(f[0])
				start, _ := strconv.ParseUint(f[1], 10, 64)
				if pid > 0 && sameProcess(pid, start) {
					pids = append(pids, pid)
				}
			}
		}
	}
	for _, pid := range pids {
		if err := g.AddToEmulator(pid); err != nil {
			return cgErr(err)
		}
	}
	return nil
}

func dirEmpty(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	return len(ents) == 0, err
}

// Undefine flags about the platform's host state (virDomainUndefineFlagsValues).
const (
	undefineNVRAM     = 1 << 2
	undefineKeepNVRAM = 1 << 3
	undefineTPM       = 1 << 5
	undefineKeepTPM   = 1 << 6
)

// nvramOf is the local varstore file of a definition, "" for none: the
// <nvram> written, else the one govirt names after the guest for a UEFI
// loader or firmware auto-selection.
func (d *Driver) nvramOf(def *conf.Domain) string {
	os := def.Tree().Child("os")
	if os == nil {
		return ""
	}
	if n := os.Child("nvram"); n != nil {
		switch t, _ := n.Attr("type"); t {
		case "":
			if p := n.Text(); p != "" {
				return p
			}
		case "file":
			if s := n.Child("source"); s != nil {
				p, _ := s.Attr("file")
				return p
			}
			return ""
		default:
			return "" // block devices and network stores are not ours to remove
		}
	}
	// The default store exists only for UEFI: auto-selected, or a
	// read-only pflash loader that keeps state.
	fw, _ := os.Attr("firmware")
	l := os.Child("loader")
	typ, ro, stateless := "", "", ""
	if l != nil {
		typ, _ = l.Attr("type")
		ro, _ = l.Attr("readonly")
		stateless, _ = l.Attr("stateless")
	}
	if stateless == "yes" || (fw != "efi" && (typ != "pflash" || ro != "yes")) {
		return ""
	}
	return filepath.Join(d.dirs.nvram, def.Name+"_VARS.fd")
}

// undefinePlatform is qemuDomainUndefineFlags' part about the varstore
// and TPM state: it refuses to drop a varstore silently, and returns what
// to remove once the definition is gone.
func (d *Driver) undefinePlatform(def *conf.Domain, flags uint32) (func(), error) {
	if def == nil {
		return func() {}, nil
	}
	nvram := d.nvramOf(def)
	removeNVRAM := false
	if nvram != "" {
		if _, err := os.Stat(nvram); err == nil {
			switch {
			case flags&undefineNVRAM != 0:
				removeNVRAM = true
			case flags&undefineKeepNVRAM == 0:
				return nil, errQEMU(virerr.ErrOperationInvalid, "cannot undefine domain with nvram")
			}
		}
	}
	removeTPM := false
	if flags&undefineKeepTPM == 0 {
		if devs := def.Tree().Child("devices"); devs != nil {
			for _, t := range devs.Children("tpm") {
				be := t.Child("backend")
				if be == nil {
					continue
				}
				typ, _ := be.Attr("type")
				ps, _ := be.Attr("persistent_state")
				if typ == "emulator" && (ps != "yes" || flags&undefineTPM != 0) {
					removeTPM = true
				}
			}
		}
	}
	uuid := def.UUID.String()
	return func() {
		if removeNVRAM {
			if err := os.Remove(nvram); err != nil && !os.IsNotExist(err) {
				d.log.Warn("failed to remove nvram", "path", nvram, "err", err)
			}
		}
		if removeTPM {
			os.RemoveAll(filepath.Join(d.dirs.swtpm, uuid))
		}
	}, nil
}
