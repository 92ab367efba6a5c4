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
