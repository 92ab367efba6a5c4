package qemu

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a running QEMU. It may be our child (started by this daemon)
// or a survivor of an earlier daemon that we reconnected to. A child is
// reaped by os/exec and signalled through os.Process (a pidfd on Linux);
// a survivor is tracked by a pidfd opened after checking its start time,
// so a reused pid is never mistaken for it nor signalled. Without pidfds
// the start time is checked before every signal and while polling.
type process struct {
	pid    int
	start  uint64    // field 22 of /proc/PID/stat: start time in clock ticks
	cmd    *exec.Cmd // nil for a reconnected process
	pidfd  *os.File  // reconnected process, when the kernel has pidfd_open
	exited chan struct{}
	once   sync.Once
}

// spawn starts argv in its own session so that it outlives the daemon: a
// restarted govirtd reconnects to it instead of losing the guest. QEMU
// inherits extra as descriptors 3, 4, ...
func spawn(argv, env []string, logPath string, extra ...*os.File) (*process, error) {
	return spawnAs(nil, argv, env, logPath, extra...)
}

// spawnAs is spawn with QEMU's identity: cred (nil keeps the daemon's).
func spawnAs(cred *procCred, argv, env []string, logPath string, extra ...*os.File) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// env are the domain's own variables (<qemu:env>).
	cmd.Env = append([]string{"LC_ALL=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cred.apply(cmd.SysProcAttr)
	cmd.ExtraFiles = extra
	fmtArgs := strings.Join(argv, " ")
	logf.WriteString(time.Now().UTC().Format(time.RFC3339) + " starting up\n" + fmtArgs + "\n")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{pid: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{})}
	// Our unreaped child cannot be replaced by another process, so the
	// start time read now is its own.
	p.start, _ = procStartTime(p.pid)
	go p.reap()
	return p, nil
}

// reap waits for our child to exit and collects it. cmd.Wait alone would
// sit in a blocking waitid, holding an OS thread per running guest (each
// with its stacks: ~10 MiB of the daemon's memory with 200 guests), so
// the exit is awaited on a pidfd in the runtime's poller first, and
// cmd.Wait only reaps the zombie. The pidfd is our own (os.Process keeps
// its handle private); the unreaped child's pid cannot be reused.
func (p *process) reap() {
	if f, err := pidfdOpen(p.pid); err == nil {
		waitPidfd(f)
		f.Close()
	}
	_ = p.cmd.Wait()
	p.once.Do(func() { close(p.exited) })
}

// procStartTime reads field 22 (starttime) of /proc/PID/stat.
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	// Fields after the command name start at field 3 (state).
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, errors.New("short stat")
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, errors.New("process is a zombie")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// sameProcess is true while pid is alive and started at start (0 when a
// status file predates the record: then only liveness is checked).
func sameProcess(pid int, start uint64) bool {
	st, err := procStartTime(pid)
	return err == nil && (start == 0 || st == start)
}

// Linux syscall numbers, the same on every architecture since 5.3.
const (
	sysPidfdOpen       = 434
	sysPidfdSendSignal = 424
	pidfdNonblock      = syscall.O_NONBLOCK
)

func pidfdOpen(pid int) (*os.File, error) {
	fd, _, e := syscall.Syscall(sysPidfdOpen, uintptr(pid), uintptr(pidfdNonblock), 0)
	if e != 0 {
		return nil, e
	}
	return os.NewFile(fd, "pidfd:"+strconv.Itoa(pid)), nil
}

func pidfdSignal(f *os.File, sig syscall.Signal) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if _, _, e := syscall.Syscall6(sysPidfdSendSignal, fd, uintptr(sig), 0, 0, 0, 0); e != 0 {
			serr = e
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// adopt watches a QEMU left running by an earlier daemon, which must be
// the process that started at start.
func adopt(pid int, start uint64) (*process, error) {
	gone := errors.New("process " + strconv.Itoa(pid) + " is gone")
	if pid <= 0 || !sameProcess(pid, start) {
		return nil, gone
	}
	p := &process{pid: pid, start: start, exited: make(chan struct{})}
	if f, err := pidfdOpen(pid); err == nil {
		// Checked again now that the pidfd pins the process: the pid
		// could have been reused between the first check and the open.
		if !sameProcess(pid, start) {
			f.Close()
			return nil, gone
		}
		p.pidfd = f
		go p.watchPidfd()
		return p, nil
	}
	go func() {
		for sameProcess(pid, start) {
			time.Sleep(500 * time.Millisecond)
		}
		p.once.Do(func() { close(p.exited) })
	}()
	return p, nil
}

// watchPidfd waits, in the runtime's poller, for the pidfd to become
// readable: the process exited.
func (p *process) watchPidfd() {
	defer p.pidfd.Close()
	defer p.once.Do(func() { close(p.exited) })
	waitPidfd(p.pidfd)
}

// waitPidfd returns once f's process exited (f turns readable; for our
// child, once it is a zombie), or at once if it is already gone.
func waitPidfd(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	first := true
	_ = rc.Read(func(uintptr) bool {
		if first {
			first = false
			return pidfdSignal(f, 0) != nil
		}
		return true
	})
}

func (p *process) isExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// signal sends sig unless the process is known gone; it never reaches a
// process that took over the pid.
func (p *process) signal(sig syscall.Signal) {
	if p.isExited() {
		return
	}
	switch {
	case p.cmd != nil:
		_ = p.cmd.Process.Signal(sig)
	case p.pidfd != nil:
		_ = pidfdSignal(p.pidfd, sig)
	case sameProcess(p.pid, p.start):
		_ = syscall.Kill(p.pid, sig)
	}
}

// wait reports whether the process exited within d.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

// kill stops QEMU as libvirt does: SIGTERM, a grace period, then SIGKILL.
func (p *process) kill(grace time.Duration) {
	p.signal(syscall.SIGTERM)
	if p.wait(grace) {
		return
	}
	p.signal(syscall.SIGKILL)
	p.wait(5 * time.Second)
}
