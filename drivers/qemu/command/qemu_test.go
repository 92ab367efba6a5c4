package command

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"govirt/conf"
)

const qemuBinary = "/usr/bin/qemu-system-x86_64"

// kvmUsable reports whether /dev/kvm can create a VM here.
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	const kvmCreateVM = 0xAE01
	fd, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return false
	}
	syscall.Close(int(fd))
	return true
}

// tapUsable reports whether QEMU could create a tap device here.
func tapUsable() bool {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	var req [40]byte
	copy(req[:], "gvprobe%d")
	binary.LittleEndian.PutUint16(req[16:], 0x0002|0x1000) // IFF_TAP|IFF_NO_PI
	const tunSetIff = 0x400454ca
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), tunSetIff, uintptr(unsafe.Pointer(&req[0])))
	return errno == 0
}

// TestQEMUAcceptsGoldens starts QEMU with the command line of every
// golden definition (paths moved into a temporary directory) and checks
// over QMP that it comes up paused, as -S asks.
func TestQEMUAcceptsGoldens(t *testing.T) {
	if _, err := os.Stat(qemuBinary); err != nil {
		t.Skip("no " + qemuBinary)
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("no qemu-img")
	}
	kvm := kvmUsable()
	for _, f := range testFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		if strings.HasPrefix(name, "unsupported-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Unix socket paths are limited to 108 bytes.
			dir, err := os.MkdirTemp("", "gvq")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			def := loadDomain(t, f, dir)
			if !kvm {
				def.Type = "qemu"
			}
			for _, n := range def.Devices.Interfaces {
				if n.Type == "ethernet" || n.Type == "bridge" {
					if !tapUsable() {
						t.Skip("cannot create tap devices here")
					}
					// Tap names are host-wide: keep parallel runs apart.
					n.TargetDev = fmt.Sprintf("gvt%d", os.Getpid()%100000)
				}
			}
			makeImages(t, def)
			makeKernel(t, def)
			// A free port for SPICE (and VNC) autoport: fixed ports
			// clash with other QEMUs on the host.
			p := Paths{MonitorSocket: filepath.Join(dir, "mon.sock"), DomainDir: dir, VNCPort: freeTCPPort,
				MasterKey: filepath.Join(dir, "master-key.aes")}
			withTestSecrets(&p)
			if err := os.WriteFile(p.MasterKey, p.MasterKeyData, 0o600); err != nil {
				t.Fatal(err)
			}
			cl, err := Build(def, qemu72(), p)
			if err != nil {
				t.Fatal(err)
			}
			// What the driver sends before the CPUs run must be
			// accepted too.
			throttles, err := DiskThrottles(def)
			if err != nil {
				t.Fatal(err)
			}
			makeNVRAM(t, cl)
			var extra []qmpCall
			for _, a := range throttles {
				extra = append(extra, qmpCall{"block_set_io_throttle", a})
			}
			runPaused(t, cl, p.MonitorSocket, extra...)
		})
	}
}

// makeImages creates every image of every disk chain, bottom up, each
// qcow2 layer recording the layer below as its backing file.
func makeImages(t *testing.T, def *conf.Domain) {
	for _, d := range def.Devices.Disks {
		ls := layers(d)
		for i := len(ls) - 1; i >= 0; i-- {
			s := ls[i]
			if s.Type == "dir" {
				// A small directory QEMU shows as a FAT disk.
				if err := os.MkdirAll(s.Path, 0o755); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(s.Path, "README"), []byte("govirt\n"), 0o644)
				continue
			}
			if s.Type != "file" {
				continue
			}
			args := []string{"create", "-q", "-f", format(s)}
			if encryptionOf(conf.DeviceElement(d)) != nil && i == 0 {
				// A LUKS image (raw with encryption) or qcow2 with
				// LUKS encryption, keyed with the test passphrase.
				args = []string{"create", "-q", "--object", "secret,id=sec0,data=" + testPassphrase}
				if format(s) == "raw" {
					args = append(args, "-f", "luks", "-o", "key-secret=sec0,iter-time=10")
				} else {
					args = append(args, "-f", format(s), "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10")
				}
			}
			if i+1 < len(ls) {
				args = append(args, "-b", ls[i+1].Path, "-F", format(ls[i+1]))
			}
			args = append(args, s.Path, "16M")
			if out, err := qemuImg(args...); err != nil {
				t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
			}
		}
	}
}

// makeKernel writes a stand-in for <kernel> and <initrd>: QEMU loads
// them before the guest runs, so the kernel needs a valid Linux boot
// protocol header, but the guest never executes it (-S).
func makeKernel(t *testing.T, def *conf.Domain) {
	if def.OS.Kernel == "" {
		return
	}
	if err := os.WriteFile(def.OS.Kernel, stubKernel(), 0o644); err != nil {
		t.Fatal(err)
	}
	if def.OS.Initrd != "" {
		if err := os.WriteFile(def.OS.Initrd, make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// stubKernel is a kernel image with a valid Linux boot protocol header
// and nothing else.
func stubKernel() []byte {
	k := make([]byte, 64<<10)
	k[0x1f1] = 4                                         // setup_sects
	copy(k[0x202:], "HdrS")                              // header magic
	binary.LittleEndian.PutUint16(k[0x206:], 0x0206)     // boot protocol 2.06
	k[0x211] = 0x01                                      // LOADED_HIGH
	binary.LittleEndian.PutUint32(k[0x22c:], 0x37ffffff) // initrd_addr_max
	binary.LittleEndian.PutUint32(k[0x238:], 2048)       // cmdline_size
	return k
}

// makeNVRAM creates the UEFI varstore from its template, as the driver
// does before starting QEMU; the test is skipped without the firmware.
func makeNVRAM(t *testing.T, cl *Cmdline) {
	if cl.NVRAM == "" {
		return
	}
	data, err := os.ReadFile(cl.NVRAMTemplate)
	if err != nil {
		t.Skipf("no UEFI varstore template: %v", err)
	}
	for i, a := range cl.Argv {
		if i > 0 && cl.Argv[i-1] == "-blockdev" && strings.Contains(a, "pflash0-storage") {
			var o struct{ Filename string }
			if json.Unmarshal([]byte(a), &o) == nil && o.Filename != "" {
				if _, err := os.Stat(o.Filename); err != nil {
					t.Skipf("no UEFI firmware: %v", err)
				}
			}
		}
	}
	if err := os.WriteFile(cl.NVRAM, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// qmpCall is a QMP command with its arguments.
type qmpCall struct {
	cmd  string
	args json.RawMessage
}

// runPaused starts QEMU, talks QMP to it (greeting, qmp_capabilities,
// query-status, the extra calls) and quits it; QEMU's stderr is reported
// if it fails.
func runPaused(t *testing.T, cl *Cmdline, mon string, extra ...qmpCall) {
	var stderr syncBuf
	cmd := exec.Command(cl.Argv[0], cl.Argv[1:]...)
	cmd.Env = cl.Env
	files, err := OpenHostFiles(cl.Files, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	cmd.ExtraFiles = files
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	var conn net.Conn
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("unix", mon)
		if err == nil {
			conn = c
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("QEMU exited early (%v):\n%s\nargv: %q", err, stderr.String(), cl.Argv)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no QMP socket after 30s:\n%s", stderr.String())
		}
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	read := func() map[string]any {
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				t.Fatalf("QMP: %v\n%s", err, stderr.String())
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("QMP: %v: %s", err, line)
			}
			if _, ev := m["event"]; !ev {
				return m
			}
		}
	}
	call := func(cmd string, args ...json.RawMessage) map[string]any {
		if len(args) > 0 {
			fmt.Fprintf(conn, `{"execute":%q,"arguments":%s}`+"\n", cmd, args[0])
		} else {
			fmt.Fprintf(conn, `{"execute":%q}`+"\n", cmd)
		}
		m := read()
		if e, ok := m["error"]; ok {
			t.Fatalf("QMP %s: %v", cmd, e)
		}
		return m
	}
	if _, ok := read()["QMP"]; !ok {
		t.Fatal("no QMP greeting")
	}
	call("qmp_capabilities")
	st, _ := call("query-status")["return"].(map[string]any)
	if s := st["status"]; s != "prelaunch" && s != "paused" {
		t.Errorf("status %v, want prelaunch or paused", s)
	}
	for _, c := range extra {
		call(c.cmd, c.args)
	}
	call("quit")
	if out := stderr.String(); out != "" {
		t.Logf("QEMU said:\n%s", out)
	}
}

// syncBuf collects QEMU's output, written by exec's copying goroutine
// while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeTCPPort is a loopback port nothing listens on right now.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
