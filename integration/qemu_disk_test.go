package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUDiskFeatures starts, through virsh, a guest whose disks use
// libvirt's disk features beyond plain images — I/O throttling with a
// group, an iothread, a floppy, a SCSI disk with vendor/product/wwn, a
// storage slice, the boot menu — and checks what QEMU really got over its
// monitor: the throttle limits and group (set before the CPUs run), the
// devices' properties. A disk whose secret is not defined is refused with
// libvirt's error.
func TestQEMUDiskFeatures(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	img := func(name string) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(16 << 20)
		f.Close()
		return p
	}
	devices := `    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' iothread='1' discard='unmap'/>
      <source file='` + img("vda.raw") + `'/>
      <target dev='vda' bus='virtio'/>
      <iotune>
        <total_bytes_sec>2000000</total_bytes_sec>
        <read_iops_sec>300</read_iops_sec>
        <write_iops_sec>200</write_iops_sec>
        <group_name>slowgroup</group_name>
      </iotune>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='` + img("sda.raw") + `'>
        <slices>
          <slice type='storage' offset='1048576' size='8388608'/>
        </slices>
      </source>
      <target dev='sda' bus='scsi'/>
      <vendor>GOVIRT</vendor>
      <product>SLICED</product>
      <wwn>5000c50015ea71ad</wwn>
    </disk>
    <disk type='file' device='floppy'>
      <driver name='qemu' type='raw'/>
      <source file='` + img("fda.img") + `'/>
      <target dev='fda' bus='fdc'/>
    </disk>
    <controller type='scsi' index='0' model='virtio-scsi'>
      <driver queues='2'/>
    </controller>
    <serial type='pty'/>
`
	xml := testGuestXML(t, "dk1", "<iothreads>1</iothreads>", devices)
	xml = strings.Replace(xml, "</os>", "<bootmenu enable='yes' timeout='500'/></os>", 1)
	path := filepath.Join(dir, "dk1.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start dk1")
	waitState(t, d, "dk1", "running (booted)", 30*time.Second)

	out := mustVirsh(t, uri, `qemu-monitor-command dk1 '{"execute":"query-block"}'`)
	var reply struct {
		Return []struct {
			QDev     string `json:"qdev"`
			Inserted *struct {
				NodeName string `json:"node-name"`
				BPS      int64  `json:"bps"`
				IOPSRd   int64  `json:"iops_rd"`
				IOPSWr   int64  `json:"iops_wr"`
				Group    string `json:"group"`
			} `json:"inserted"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Fatalf("query-block: %v\n%s", err, out)
	}
	found := false
	for _, b := range reply.Return {
		if !strings.Contains(b.QDev, "virtio-disk0") || b.Inserted == nil {
			continue
		}
		found = true
		in := b.Inserted
		if in.BPS != 2000000 || in.IOPSRd != 300 || in.IOPSWr != 200 || in.Group != "slowgroup" {
			t.Errorf("throttling of vda: %+v", *in)
		}
	}
	if !found {
		t.Errorf("no virtio-disk0 in query-block:\n%s", out)
	}
	// The SCSI disk carries its identity, the floppy sits on the PC's
	// controller, the virtio disk runs in iothread1.
	tree := mustVirsh(t, uri, `qemu-monitor-command dk1 --hmp info qtree`)
	for _, want := range []string{`vendor = "GOVIRT"`, `product = "SLICED"`, `wwn = 5764824127192592813`,
		`dev: floppy, id "fdc0-0-0"`} {
		if !strings.Contains(tree, want) {
			t.Errorf("info qtree lacks %q", want)
		}
	}
	it := mustVirsh(t, uri, `qemu-monitor-command dk1 '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/virtio-disk0/virtio-backend","property":"iothread"}}'`)
	if !strings.Contains(it, "iothread1") {
		t.Errorf("iothread of virtio-disk0: %s", it)
	}
	live := mustVirsh(t, uri, "dumpxml dk1")
	for _, want := range []string{"<alias name='fdc0-0-0'/>", "<alias name='scsi0-0-0-0'/>", "<group_name>slowgroup</group_name>"} {
		if !strings.Contains(live, want) {
			t.Errorf("live XML lacks %s:\n%s", want, live)
		}
	}
	// A hot-plugged disk gets its throttling as at start.
	hot := filepath.Join(dir, "vdc.xml")
	if err := os.WriteFile(hot, []byte(`<disk type='file' device='disk'>
  <driver name='qemu' type='raw' copy_on_read='on'/>
  <source file='`+img("vdc.raw")+`'/>
  <target dev='vdc' bus='virtio'/>
  <iotune><total_iops_sec>123</total_iops_sec></iotune>
</disk>`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "attach-device dk1 "+hot+" --live")
	out = mustVirsh(t, uri, `qemu-monitor-command dk1 '{"execute":"query-block"}'`)
	if !strings.Contains(out, `"iops":123`) || !strings.Contains(out, "libvirt-CoR-vdc") {
		t.Errorf("hot-plugged vdc: throttle or copy-on-read node missing:\n%s", out)
	}
	mustVirsh(t, uri, "destroy dk1")

	// An encrypted disk needs its passphrase from the secret store.
	enc := `    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='` + img("luks.img") + `'>
        <encryption format='luks'>
          <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>
        </encryption>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
`
	path = filepath.Join(dir, "dk2.xml")
	if err := os.WriteFile(path, []byte(testGuestXML(t, "dk2", "", enc)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	_, msg, rc := virsh(t, uri, "start", "dk2")
	if rc == 0 || !strings.Contains(msg, "Secret not found: no secret with matching uuid '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'") {
		t.Errorf("start of an encrypted disk without its secret: rc %d\n%s", rc, msg)
	}
}
