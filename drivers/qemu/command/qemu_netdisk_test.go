package command

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/conf"
)

// TestQEMUAcceptsNBDDisk serves an image with qemu-nbd on a unix socket
// and starts QEMU with a <disk type='network'> reading it, so the nbd
// protocol node the builder writes is one QEMU connects with.
func TestQEMUAcceptsNBDDisk(t *testing.T) {
	if _, err := os.Stat(qemuBinary); err != nil {
		t.Skip("no " + qemuBinary)
	}
	nbd, err := exec.LookPath("qemu-nbd")
	if err != nil {
		t.Skip("no qemu-nbd")
	}
	dir, err := os.MkdirTemp("", "gvn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	img := filepath.Join(dir, "exported.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "nbd.sock")
	srv := exec.Command(nbd, "--socket="+sock, "--format=qcow2", "--export-name=disk0", "--persistent", "--shared=2", img)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("qemu-nbd did not create its socket")
		}
		time.Sleep(50 * time.Millisecond)
	}
	def := loadDomain(t, "testdata/disk-luks.xml", dir) // any small guest
	def.Devices.Disks = nil
	if !kvmUsable() {
		def.Type = "qemu"
	}
	disk, err := conf.ParseDevice([]byte(`<disk type='network' device='disk'>
  <driver name='qemu' type='raw'/>
  <source protocol='nbd' name='disk0'>
    <host transport='unix' socket='` + sock + `'/>
  </source>
  <target dev='vda' bus='virtio'/>
</disk>`))
	if err != nil {
		t.Fatal(err)
	}
	if err := def.AddDevice(disk); err != nil {
		t.Fatal(err)
	}
	p := Paths{MonitorSocket: filepath.Join(dir, "mon.sock"), DomainDir: dir}
	withTestSecrets(&p)
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	runPaused(t, cl, p.MonitorSocket)
}

// TestQEMUAcceptsVhostUserDisk exports an image as vhost-user-blk with
// qemu-storage-daemon and starts QEMU with a <disk type='vhostuser'> on
// its socket (guest memory shared through memfd, as libvirt requires).
func TestQEMUAcceptsVhostUserDisk(t *testing.T) {
	if _, err := os.Stat(qemuBinary); err != nil {
		t.Skip("no " + qemuBinary)
	}
	qsd, err := exec.LookPath("qemu-storage-daemon")
	if err != nil {
		t.Skip("no qemu-storage-daemon")
	}
	dir, err := os.MkdirTemp("", "gvu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	img := filepath.Join(dir, "blk.raw")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "raw", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "vu.sock")
	srv := exec.Command(qsd, "--blockdev", "driver=file,node-name=file0,filename="+img,
		"--export", "type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path="+sock+",writable=on")
	var out syncBuf
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 100 {
			t.Fatalf("qemu-storage-daemon did not create its socket:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	xml := `<domain type='qemu'>
  <name>vu</name>
  <uuid>2f0c6a8e-5d41-4b7a-9c3e-8a1d2b3c4d5e</uuid>
  <memory unit='KiB'>131072</memory>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='vhostuser' device='disk'>
      <driver name='qemu' type='raw'/>
      <source type='unix' path='` + sock + `'>
        <reconnect enabled='yes' timeout='10'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>`
	def, err := conf.ParseDomain([]byte(xml), conf.ParseValidate)
	if err != nil {
		t.Fatal(err)
	}
	p := Paths{MonitorSocket: filepath.Join(dir, "mon.sock"), DomainDir: dir}
	withTestSecrets(&p)
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	runPaused(t, cl, p.MonitorSocket)
}

// TestQEMUAcceptsHTTPDisk serves an image over HTTP and starts QEMU with
// a read-only http disk carrying cookies: QEMU opens the URL the builder
// wrote and sends the cookies decrypted from their secret object.
func TestQEMUAcceptsHTTPDisk(t *testing.T) {
	if _, err := os.Stat(qemuBinary); err != nil {
		t.Skip("no " + qemuBinary)
	}
	// The curl block driver is a loadable module (Debian's
	// qemu-block-extra); without it QEMU cannot open http disks at all.
	probe, _ := exec.Command(qemuBinary, "-machine", "none", "-nodefaults", "-display", "none",
		"-blockdev", "driver=http,url=http://127.0.0.1:9/x,node-name=n").CombinedOutput()
	if strings.Contains(string(probe), "Unknown driver 'http'") {
		t.Skip("this QEMU has no http block driver (qemu-block-extra)")
	}
	dir, err := os.MkdirTemp("", "gvh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	img := make([]byte, 1<<20)
	var mu sync.Mutex
	var cookies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cookies = append(cookies, r.Header.Get("Cookie"))
		mu.Unlock()
		http.ServeContent(w, r, "disk.img", time.Time{}, bytes.NewReader(img))
	}))
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	xml := `<domain type='qemu'>
  <name>hd</name>
  <uuid>4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8</uuid>
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='network' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source protocol='http' name='/disk.img'>
        <host name='` + host + `' port='` + port + `'/>
        <cookies>
          <cookie name='session'>abc123</cookie>
        </cookies>
        <timeout seconds='10'/>
      </source>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
  </devices>
</domain>`
	def, err := conf.ParseDomain([]byte(xml), conf.ParseValidate)
	if err != nil {
		t.Fatal(err)
	}
	p := Paths{MonitorSocket: filepath.Join(dir, "mon.sock"), DomainDir: dir, MasterKey: filepath.Join(dir, "master-key.aes")}
	withTestSecrets(&p)
	if err := os.WriteFile(p.MasterKey, p.MasterKeyData, 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	runPaused(t, cl, p.MonitorSocket)
	mu.Lock()
	defer mu.Unlock()
	if len(cookies) == 0 || cookies[0] != "session=abc123" {
		t.Errorf("cookies QEMU sent: %q", cookies)
	}
}
