package command

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"
)

// startTimeout bounds one QEMU's start up to its QMP answer; the machine
// running the test may be loaded.
const startTimeout = 60 * time.Second

// qemuCPU adds up the CPU time of the QEMUs started.
var qemuCPU atomic.Int64

// startPausedQEMU starts cl with its monitor passed as descriptor 3 (the
// listening socket at mon, as the driver does) and extra[1:] as 4, ..., asks QMP query-status,
// and kills QEMU by its pid. The error says what QEMU printed when it
// failed.
func startPausedQEMU(cl *Cmdline, mon string, extra []*os.File) error {
	l, err := net.Listen("unix", mon)
	if err != nil {
		return err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	lf, err := l.(*net.UnixListener).File()
	l.Close() // the descriptor lf keeps it listening
	if err != nil {
		return err
	}
	defer lf.Close()
	var out syncBuf
	cmd := exec.Command(cl.Argv[0], cl.Argv[1:]...)
	cmd.Env = cl.Env
	cmd.Stdout, cmd.Stderr = &out, &out
	if len(extra) == 0 {
		extra = []*os.File{nil}
	}
	extra[0] = lf
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if ps := cmd.ProcessState; ps != nil {
			qemuCPU.Add(int64(ps.UserTime() + ps.SystemTime()))
		}
	}()
	lf.Close()
	failed := func(err error) error {
		select {
		case werr := <-exited:
			exited <- werr
			return fmt.Errorf("QEMU exited (%v): %s", werr, firstLines(out.String(), 3))
		case <-time.After(500 * time.Millisecond):
		}
		if s := out.String(); s != "" {
			return fmt.Errorf("%v; QEMU said: %s", err, firstLines(s, 3))
		}
		return err
	}
	conn, err := net.Dial("unix", mon)
	if err != nil {
		return failed(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(startTimeout))
	r := bufio.NewReader(conn)
	read := func() (map[string]any, error) {
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				return nil, fmt.Errorf("QMP: %v: %s", err, line)
			}
			if _, ev := m["event"]; !ev {
				return m, nil
			}
		}
	}
	call := func(c string) (map[string]any, error) {
		fmt.Fprintf(conn, `{"execute":%q}`+"\n", c)
		m, err := read()
		if err != nil {
			return nil, err
		}
		if e, ok := m["error"]; ok {
			return nil, fmt.Errorf("QMP %s: %v", c, e)
		}
		return m, nil
	}
	if m, err := read(); err != nil {
		return failed(err)
	} else if _, ok := m["QMP"]; !ok {
		return failed(fmt.Errorf("no QMP greeting: %v", m))
	}
	if _, err := call("qmp_capabilities"); err != nil {
		return failed(err)
	}
	m, err := call("query-status")
	if err != nil {
		return failed(err)
	}
	st, _ := m["return"].(map[string]any)
	want := []string{"prelaunch", "paused"}
	for _, a := range cl.Argv {
		if a == "-incoming" {
			want = []string{"inmigrate"}
		}
	}
	for _, w := range want {
		if st["status"] == w {
			return nil
		}
	}
	return fmt.Errorf("status %v, want %s", st["status"], strings.Join(want, " or "))
}

func firstLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[:n]
	}
	return strings.Join(ls, " | ")
}
