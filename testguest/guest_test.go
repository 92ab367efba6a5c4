package testguest

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const qemuBin = "qemu-system-x86_64"

// qmpClient is a minimal QMP client: enough to run commands and wait for
// events.
type qmpClient struct {
	t      *testing.T
	conn   net.Conn
	wmu    sync.Mutex
	events chan map[string]any
	resps  chan map[string]any
}

func dialQMP(t *testing.T, path string) *qmpClient {
	t.Helper()
	var conn net.Conn
	var err error
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("unix", path); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("connect QMP: %v", err)
	}
	q := &qmpClient{t: t, conn: conn, events: make(chan map[string]any, 64), resps: make(chan map[string]any, 1)}
	dec := json.NewDecoder(bufio.NewReader(conn))
	var greeting map[string]any
	if err := dec.Decode(&greeting); err != nil || greeting["QMP"] == nil {
		t.Fatalf("QMP greeting: %v %v", greeting, err)
	}
	go func() {
		defer close(q.events)
		defer close(q.resps)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return
			}
			if _, ok := m["event"]; ok {
				select {
				case q.events <- m:
				default: // nobody is interested; drop
				}
				continue
			}
			q.resps <- m
		}
	}()
	t.Cleanup(func() { conn.Close() })
	q.execute("qmp_capabilities", nil)
	return q
}

func (q *qmpClient) execute(cmd string, args map[string]any) map[string]any {
	q.t.Helper()
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	b, _ := json.Marshal(msg)
	q.wmu.Lock()
	_, err := q.conn.Write(b)
	q.wmu.Unlock()
	if err != nil {
		q.t.Fatalf("QMP %s: %v", cmd, err)
	}
	select {
	case r, ok := <-q.resps:
		if !ok {
			q.t.Fatalf("QMP %s: connection closed", cmd)
		}
		if e, ok := r["error"]; ok {
			q.t.Fatalf("QMP %s: %v", cmd, e)
		}
		ret, _ := r["return"].(map[string]any)
		return ret
	case <-time.After(10 * time.Second):
		q.t.Fatalf("QMP %s: no reply", cmd)
	}
	return nil
}

// waitEvent waits for the named event, logging others, and returns its data.
func (q *qmpClient) waitEvent(name string, timeout time.Duration) map[string]any {
	q.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-q.events:
			if !ok {
				q.t.Fatalf("QMP closed while waiting for %s", name)
			}
			data, _ := ev["data"].(map[string]any)
			if ev["event"] == name {
				return data
			}
			q.t.Logf("QMP event %v %v", ev["event"], data)
		case <-deadline:
			q.t.Fatalf("timed out after %v waiting for QMP event %s", timeout, name)
		}
	}
}

type guest struct {
	con   *Console
	qmp   *qmpClient
	start time.Time
}

// boot starts the test guest under QEMU with extra arguments, its serial
// console on stdio, and waits for the readiness marker.
func boot(t *testing.T, extra ...string) *guest {
	t.Helper()
	if _, err := exec.LookPath(qemuBin); err != nil {
		t.Skipf("%s not found", qemuBin)
	}
	kernel, initrd := Ensure(t)
	dir, err := os.MkdirTemp("", "gvtg") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	qmpPath := filepath.Join(dir, "qmp.sock")
	args := []string{
		"-accel", Accel(), "-m", "128", "-nodefaults", "-display", "none", "-no-user-config",
		"-kernel", kernel, "-initrd", initrd, "-append", Cmdline,
		"-serial", "stdio", "-qmp", "unix:" + qmpPath + ",server=on,wait=off",
		"-no-shutdown",
	}
	if !strings.Contains(strings.Join(extra, " "), "pvpanic") {
		args = append(args, "-device", "pvpanic")
	}
	args = append(args, extra...)
	cmd := exec.Command(qemuBin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &guest{con: NewConsole(stdout, stdin), start: start}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("qemu %s\nstderr:\n%s\nconsole:\n%s", strings.Join(args, " "), stderr.String(), g.con.Output())
		}
	})
	g.qmp = dialQMP(t, qmpPath)
	g.waitReady(t)
	t.Logf("booted to %s in %v with %s", ReadyMarker, time.Since(start).Round(time.Millisecond), Accel())
	return g
}

func (g *guest) waitReady(t *testing.T) {
	t.Helper()
	line, err := g.con.Expect(ReadyMarker, BootTimeout())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, ReadyMarker) {
		t.Fatalf("readiness marker not at start of line: %q", line)
	}
}

func (g *guest) run(t *testing.T, cmd string) {
	t.Helper()
	if err := g.con.Send(cmd); err != nil {
		t.Fatalf("send %q: %v", cmd, err)
	}
}

func (g *guest) expect(t *testing.T, re string) []string {
	t.Helper()
	m, err := g.con.ExpectRegexp(regexp.MustCompile(re), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func status(t *testing.T, q *qmpClient) string {
	t.Helper()
	s, _ := q.execute("query-status", nil)["status"].(string)
	return s
}

func TestPowerButton(t *testing.T) {
	t.Parallel()
	g := boot(t)
	g.qmp.execute("system_powerdown", nil)
	ev := g.qmp.waitEvent("SHUTDOWN", 30*time.Second)
	if ev["guest"] != true {
		t.Errorf("SHUTDOWN event %v: want guest=true", ev)
	}
	if _, err := g.con.Expect(PowerOffMarker, 5*time.Second); err != nil {
		t.Error(err)
	}
	if s := status(t, g.qmp); s != "shutdown" {
		t.Errorf("status after guest poweroff with -no-shutdown = %q, want shutdown", s)
	}
	t.Logf("SHUTDOWN %v", ev)
}

func TestPanic(t *testing.T) {
	t.Parallel()
	g := boot(t)
	start := time.Now()
	g.run(t, "gv-panic")
	ev := g.qmp.waitEvent("GUEST_PANICKED", 30*time.Second)
	t.Logf("GUEST_PANICKED %v after %v", ev, time.Since(start).Round(time.Millisecond))
	if s := status(t, g.qmp); s != "guest-panicked" {
		t.Errorf("status after panic = %q, want guest-panicked", s)
	}
}

// TestDiskCDROMReboot writes a disk, ejects the CD-ROM, reboots and checks
// the data is still there.
func TestDiskCDROMReboot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(disk, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "cd.iso")
	if err := os.WriteFile(iso, bytes.Repeat([]byte("CDROM-DATA\n"), 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	g := boot(t,
		"-drive", "file="+disk+",format=raw,if=none,id=disk0",
		"-device", "virtio-blk-pci,drive=disk0",
		"-drive", "file="+iso+",format=raw,if=none,id=cd0,media=cdrom,readonly=on",
		"-device", "ide-cd,drive=cd0,bus=ide.1",
	)

	// Expected content: "GOVIRT-PATTERN-7-\n" repeated over 1 MiB.
	pattern := bytes.Repeat([]byte("GOVIRT-PATTERN-7-\n"), (1<<20)/18+1)[:1<<20]
	sum := md5.Sum(pattern)
	want := hex.EncodeToString(sum[:])

	g.run(t, "gv-write /dev/vda 7")
	if m := g.expect(t, `^GV-WRITE (\S+) ([0-9a-f]{32})$`); m[1] != "/dev/vda" || m[2] != want {
		t.Fatalf("gv-write printed %q, want md5 %s", m[0], want)
	}
	host, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(host[:1<<20], pattern) {
		t.Fatalf("disk image does not hold the written pattern: %q...", host[:64])
	}
	g.run(t, "gv-sum /dev/vda")
	if m := g.expect(t, `^GV-SUM (\S+) ([0-9a-f]{32})$`); m[2] != want {
		t.Fatalf("gv-sum printed %q, want %s", m[0], want)
	}

	g.run(t, "gv-eject")
	g.expect(t, `^GV-EJECT /dev/sr0 ok$`)
	ev := g.qmp.waitEvent("DEVICE_TRAY_MOVED", 10*time.Second)
	if ev["tray-open"] != true {
		t.Errorf("DEVICE_TRAY_MOVED %v: want tray-open=true", ev)
	}

	g.run(t, "gv-reboot")
	ev = g.qmp.waitEvent("RESET", 30*time.Second)
	if ev["guest"] != true {
		t.Errorf("RESET event %v: want guest=true", ev)
	}
	start := time.Now()
	g.waitReady(t)
	t.Logf("rebooted in %v", time.Since(start).Round(time.Millisecond))
	g.run(t, "gv-sum /dev/vda")
	if m := g.expect(t, `^GV-SUM (\S+) ([0-9a-f]{32})$`); m[2] != want {
		t.Fatalf("after reboot gv-sum printed %q, want %s", m[0], want)
	}
	if s := status(t, g.qmp); s != "running" {
		t.Errorf("status after reboot = %q, want running", s)
	}
}

// TestQ35 covers the q35 machine: pvpanic-pci, a SATA (AHCI) CD-ROM and a
// virtio-scsi disk.
func TestQ35(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(disk, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "cd.iso")
	if err := os.WriteFile(iso, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	g := boot(t, "-M", "q35", "-device", "pvpanic-pci",
		"-device", "virtio-scsi-pci,id=scsi0",
		"-drive", "file="+disk+",format=raw,if=none,id=disk0",
		"-device", "scsi-hd,drive=disk0,bus=scsi0.0",
		"-drive", "file="+iso+",format=raw,if=none,id=cd0,media=cdrom,readonly=on",
		"-device", "ide-cd,drive=cd0,bus=ide.2",
	)
	g.run(t, "gv-write /dev/sda 3 512")
	w := g.expect(t, `^GV-WRITE /dev/sda ([0-9a-f]{32})$`)
	g.run(t, "gv-sum /dev/sda 512")
	if m := g.expect(t, `^GV-SUM /dev/sda ([0-9a-f]{32})$`); m[1] != w[1] {
		t.Errorf("gv-sum %s != gv-write %s", m[1], w[1])
	}
	g.run(t, "gv-eject /dev/sr0")
	g.expect(t, `^GV-EJECT /dev/sr0 ok$`)
	if ev := g.qmp.waitEvent("DEVICE_TRAY_MOVED", 10*time.Second); ev["tray-open"] != true {
		t.Errorf("DEVICE_TRAY_MOVED %v", ev)
	}
	g.run(t, "gv-panic")
	g.qmp.waitEvent("GUEST_PANICKED", 30*time.Second)
}

func TestConsoleExpect(t *testing.T) {
	pr, pw := io.Pipe()
	c := NewConsole(pr, io.Discard)
	go func() {
		fmt.Fprint(pw, "noise\r\nGV-SUM /dev/vda 0123")
		time.Sleep(10 * time.Millisecond)
		fmt.Fprint(pw, "\r\nlater\n")
		pw.Close()
	}()
	m, err := c.ExpectRegexp(regexp.MustCompile(`^GV-SUM (\S+) (\d+)$`), 5*time.Second)
	if err != nil || m[1] != "/dev/vda" || m[2] != "0123" {
		t.Fatalf("ExpectRegexp = %q, %v", m, err)
	}
	if _, err := c.Expect("noise", time.Second); err == nil {
		t.Fatal("Expect matched already consumed output")
	}
}

func TestKVMUsable(t *testing.T) {
	t.Logf("KVMUsable=%v accel=%s", KVMUsable(), Accel())
}
