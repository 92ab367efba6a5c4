package command

import (
	"os"
	"os/exec"
	"path/filepath"
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
