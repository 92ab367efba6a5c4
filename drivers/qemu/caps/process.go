package caps

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// probeTimeout bounds a probe whose context has no deadline. A healthy
// QEMU answers in well under a second; a wedged one must not hang the
// daemon's startup.
const probeTimeout = 60 * time.Second

// BinaryIdentity is what the cache keys a probe on.
type BinaryIdentity struct {
	Path          string
	Size          int64
	Ctime         int64 // ns
	KernelVersion string
}

// IdentifyBinary stats binary and reads the running kernel's release:
// a new QEMU package or a reboot into another kernel (KVM features come
// from the kernel) makes a cached probe stale.
func IdentifyBinary(binary string) (BinaryIdentity, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(binary, &st); err != nil {
		return BinaryIdentity{}, fmt.Errorf("cannot check QEMU binary %s: %w", binary, err)
	}
	return BinaryIdentity{Path: binary, Size: st.Size,
		Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec, KernelVersion: kernelVersion()}, nil
}

func kernelVersion() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

// Probe starts binary the way libvirt does for capability probing,
// asks it everything, and stops it. When KVM works a second QEMU forced
// to TCG is asked the accelerator-dependent questions again. runDir
// holds the short-lived monitor sockets.
func Probe(ctx context.Context, binary, runDir string) (*Caps, error) {
	id, err := IdentifyBinary(binary)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, probeTimeout)
		defer cancel()
	}
	var c *Caps
	err = runProbeQEMU(ctx, binary, runDir, "kvm:tcg", func(m Monitor) error {
		var err error
		c, err = ProbeMonitor(ctx, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.Has("kvm") && c.Has("tcg") {
		err = runProbeQEMU(ctx, binary, runDir, "tcg", func(m Monitor) error {
			return ProbeMonitorTCG(ctx, m, c)
		})
		if err != nil {
			return nil, err
		}
	}
	c.Binary, c.BinarySize, c.BinaryCtime, c.KernelVersion = id.Path, id.Size, id.Ctime, id.KernelVersion
	return c, nil
}

// limitedBuffer keeps the first few KiB of QEMU's stderr for error
// messages without letting a chatty QEMU grow memory.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 8192 - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.buf.String())
}

func runProbeQEMU(ctx context.Context, binary, runDir, accel string, fn func(Monitor) error) (err error) {
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	sock := filepath.Join(runDir, "probe-"+hex.EncodeToString(rnd[:])+".sock")
	defer os.Remove(sock)

	// No -daemonize (libvirt uses it to know when the socket exists):
	// keeping QEMU as our child lets us reap it and kill it on timeout;
	// we poll for the socket instead.
	cmd := exec.Command(binary, "-S", "-no-user-config", "-nodefaults", "-nographic",
		"-machine", "none,accel="+accel,
		"-qmp", "unix:"+sock+",server=on,wait=off")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// Pdeathsig: a probe must not outlive a crashed daemon.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		grace := 3 * time.Second
		if err != nil {
			grace = 0
		}
		if stopErr := stopProbeQEMU(cmd, exited, grace); stopErr != nil && err == nil {
			err = stopErr
		}
		if err != nil {
			if msg := stderr.String(); msg != "" {
				err = fmt.Errorf("%w (qemu: %s)", err, msg)
			}
		}
	}()

	conn, err := dialWhenReady(ctx, sock, exited)
	if err != nil {
		return fmt.Errorf("probing %s: %w", binary, err)
	}
	mon, err := dialLineMonitor(ctx, conn)
	if err != nil {
		conn.Close()
		return fmt.Errorf("probing %s: %w", binary, err)
	}
	defer mon.Close()
	if err := fn(mon); err != nil {
		return fmt.Errorf("probing %s: %w", binary, err)
	}
	// Ask politely; stopProbeQEMU kills if QEMU does not go.
	qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = mon.Execute(qctx, "quit", nil, nil)
	cancel()
	return nil
}

// dialWhenReady waits for QEMU to create its monitor socket.
func dialWhenReady(ctx context.Context, sock string, exited chan error) (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", sock)
		if err == nil {
			return conn, nil
		}
		select {
		case werr := <-exited:
			exited <- werr // let stopProbeQEMU see it too
			if werr == nil {
				werr = errors.New("exit status 0")
			}
			return nil, fmt.Errorf("QEMU exited before its monitor came up: %v", werr)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// stopProbeQEMU reaps QEMU, killing its process group when it does not
// exit on its own within grace (after quit; zero when the probe failed).
func stopProbeQEMU(cmd *exec.Cmd, exited chan error, grace time.Duration) error {
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("QEMU probe process %d did not exit", cmd.Process.Pid)
	}
}
