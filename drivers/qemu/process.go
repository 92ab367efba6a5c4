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
// or a survivor of an earlier daemon that we reconnected to; exit is
// detected by reaping the child or, for a survivor, by polling the pid.
type process struct {
	pid    int
	cmd    *exec.Cmd // nil for a reconnected process
	exited chan struct{}
	once   sync.Once
}

// spawn starts argv in its own session so that it outlives the daemon: a
// restarted govirtd reconnects to it instead of losing the guest. QEMU
// inherits extra as descriptors 3, 4, ...
func spawn(argv []string, logPath string, extra ...*os.File) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = extra
	fmtArgs := strings.Join(argv, " ")
	logf.WriteString(time.Now().UTC().Format(time.RFC3339) + " starting up\n" + fmtArgs + "\n")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{pid: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.once.Do(func() { close(p.exited) })
	}()
	return p, nil
}

// adopt watches a QEMU left running by an earlier daemon.
func adopt(pid int) (*process, error) {
	if !pidAlive(pid) {
		return nil, errors.New("process " + strconv.Itoa(pid) + " is gone")
	}
	p := &process{pid: pid, exited: make(chan struct{})}
	go func() {
		for pidAlive(pid) {
			time.Sleep(50 * time.Millisecond)
		}
		p.once.Do(func() { close(p.exited) })
	}()
	return p, nil
}

// pidAlive is true while pid exists and is not a zombie.
func pidAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func (p *process) signal(sig syscall.Signal) {
	_ = syscall.Kill(p.pid, sig)
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
