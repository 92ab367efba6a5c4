package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// defineGuestDevices defines the test guest with extra <devices> children.
func defineGuestDevices(t *testing.T, d *daemon, name, devices string) (consoleSock string) {
	t.Helper()
	consoleSock = filepath.Join(d.dir, name+".console")
	xml := strings.Replace(guestXML(t, name, consoleSock, ""), "<devices>", "<devices>\n"+devices, 1)
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
	return consoleSock
}

// rawImage creates a raw image of size (qemu-img syntax) in dir.
func rawImage(t *testing.T, dir, name, size string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if out, err := exec.Command("qemu-img", "create", "-f", "raw", p, size).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	return p
}

// hotplugPorts are spare pcie-root-ports: the builder keeps only one
// spare on q35, and the tests plug more than one device.
const hotplugPorts = `<controller type='pci' index='1' model='pcie-root-port'/>
<controller type='pci' index='2' model='pcie-root-port'/>
<controller type='pci' index='3' model='pcie-root-port'/>
<controller type='pci' index='4' model='pcie-root-port'/>
<controller type='pci' index='5' model='pcie-root-port'/>
<controller type='pci' index='6' model='pcie-root-port'/>
`

// bootGuest starts name and waits for its shell.
func bootGuest(t *testing.T, d *daemon, name, sock string) *testguest.Console {
	t.Helper()
	mustVirsh(t, d.URI("qemu"), "start "+name)
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("%s did not boot: %v\n%s", name, err, d.Log())
	}
	return con
}

// guestBlockDevs polls the guest's /sys/block until has(list) is true.
// Names are upper-cased by the guest so the echoed command never matches.
func guestBlockDevs(t *testing.T, con *testguest.Console, want string, present bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		con.Send("echo GV-BLK-$(ls /sys/block | tr a-z A-Z | tr '\\n' ,)-END")
		line, err := con.Expect("-END", 10*time.Second)
		if err == nil && strings.Contains(line, "GV-BLK-") {
			has := strings.Contains(line, strings.ToUpper(want)+",")
			if has == present {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("guest /sys/block: %s present=%v never seen", want, present)
}

func virshFails(t *testing.T, uri, cmd, want string) {
	t.Helper()
	out, errOut, rc := virsh(t, uri, cmd)
	if rc == 0 || !strings.Contains(errOut, want) {
		t.Errorf("virsh %s: rc=%d, want an error containing %q\n%s%s", cmd, rc, want, out, errOut)
	}
}

// TestQEMUHotplugDisk plugs a virtio disk into a running guest, sees it
// inside, unplugs it, and checks that bad requests leave the guest alone.
func TestQEMUHotplugDisk(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	disk := rawImage(t, dir, "data.img", "8M")
	sock := defineGuestDevices(t, d, "hp", hotplugPorts)
	ev := watchEvents(t, uri)
	con := bootGuest(t, d, "hp", sock)
	before := mustVirsh(t, uri, "dumpxml hp")

	// Bad input first: each leaves the guest as it was.
	virshFails(t, uri, "attach-disk hp "+dir+"/missing.img vdb", "Cannot access storage file '"+dir+"/missing.img'")
	vdz := filepath.Join(dir, "vdz.xml")
	os.WriteFile(vdz, []byte("<disk type='file' device='disk'><source file='"+disk+"'/><target dev='vdz' bus='virtio'/></disk>"), 0o644)
	virshFails(t, uri, "detach-device hp "+vdz, "disk vdz not found")
	virshFails(t, uri, "detach-device hp "+vdz+" --config", "no target device vdz")
	if after := mustVirsh(t, uri, "dumpxml hp"); after != before {
		t.Errorf("failed requests changed the guest:\n%s\n---\n%s", before, after)
	}

	if out := mustVirsh(t, uri, "attach-disk hp "+disk+" vdb"); !strings.Contains(out, "Disk attached successfully") {
		t.Errorf("attach-disk: %s", out)
	}
	xml := mustVirsh(t, uri, "dumpxml hp")
	for _, want := range []string{"<target dev='vdb' bus='virtio'/>", "<alias name='virtio-disk1'/>", disk} {
		if !strings.Contains(xml, want) {
			t.Errorf("live XML after attach lacks %q:\n%s", want, xml)
		}
	}
	if inactive := mustVirsh(t, uri, "dumpxml hp --inactive"); strings.Contains(inactive, "vdb") {
		t.Errorf("live-only attach reached the persistent definition:\n%s", inactive)
	}
	// The guest names virtio disks in probe order: its only one is vda.
	guestBlockDevs(t, con, "vda", true)
	virshFails(t, uri, "attach-disk hp "+disk+" vdb", "target 'vdb' duplicated")
	virshFails(t, uri, "detach-disk hp vdz", "No disk found whose source path or target is vdz")

	// The guest writes to it; the statistics see the writes.
	con.Send("gv-write /dev/vda 7 256")
	if _, err := con.Expect("GV-WRITE /dev/vda", 60*time.Second); err != nil {
		t.Fatalf("gv-write: %v", err)
	}
	st := mustVirsh(t, uri, "domblkstat hp vdb")
	if !strings.Contains(st, "vdb wr_bytes") || strings.Contains(st, "vdb wr_bytes 0\n") {
		t.Errorf("domblkstat after a write:\n%s", st)
	}

	if out := mustVirsh(t, uri, "detach-disk hp vdb"); !strings.Contains(out, "Disk detached successfully") {
		t.Errorf("detach-disk: %s", out)
	}
	guestBlockDevs(t, con, "vda", false)
	if xml := mustVirsh(t, uri, "dumpxml hp"); strings.Contains(xml, "vdb") {
		t.Errorf("live XML after detach still has vdb:\n%s", xml)
	}
	ev.expect(t, []string{"'device-added' for domain 'hp': virtio-disk1", "'device-removed' for domain 'hp': virtio-disk1"}, 10*time.Second)

	// Persistent attach and the config-side duplicate check.
	mustVirsh(t, uri, "attach-disk hp "+disk+" vdc --config")
	virshFails(t, uri, "attach-disk hp "+disk+" vdc --config", "target vdc already exists")
	if inactive := mustVirsh(t, uri, "dumpxml hp --inactive"); !strings.Contains(inactive, "<target dev='vdc' bus='virtio'/>") {
		t.Errorf("--config attach missing from the persistent definition:\n%s", inactive)
	}
	mustVirsh(t, uri, "detach-disk hp vdc --config")

	// Plug it again (the node names must be fresh) and a NIC.
	mustVirsh(t, uri, "attach-disk hp "+disk+" vdb --live")
	guestBlockDevs(t, con, "vda", true)
	nic := filepath.Join(dir, "nic.xml")
	os.WriteFile(nic, []byte("<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>"), 0o644)
	mustVirsh(t, uri, "attach-device hp "+nic)
	if xml := mustVirsh(t, uri, "dumpxml hp"); !strings.Contains(xml, "52:54:00:12:34:56") || !strings.Contains(xml, "<alias name='net0'/>") {
		t.Errorf("live XML after attach-interface:\n%s", xml)
	}
	virshFails(t, uri, "domifstat hp 52:54:00:12:34:56", "Interface name not provided")
	mustVirsh(t, uri, "detach-interface hp user --mac 52:54:00:12:34:56")
	if xml := mustVirsh(t, uri, "dumpxml hp"); strings.Contains(xml, "52:54:00:12:34:56") {
		t.Errorf("interface still there after detach:\n%s", xml)
	}
	virshFails(t, uri, "detach-interface hp user --mac 52:54:00:12:34:57", "No interface found whose type is user")
	mustVirsh(t, uri, "destroy hp")
}

// TestQEMUTrayAndMedia: the guest ejects its CD-ROM (tray open in the
// XML, tray-change event), then change-media ejects and inserts media.
func TestQEMUTrayAndMedia(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	cd1 := rawImage(t, dir, "cd1.img", "1M")
	cd2 := rawImage(t, dir, "cd2.img", "2M")
	sock := defineGuestDevices(t, d, "tr", `<disk type='file' device='cdrom'>
  <driver name='qemu' type='raw'/>
  <source file='`+cd1+`'/>
  <target dev='sda' bus='sata'/>
  <readonly/>
</disk>
`)
	ev := watchEvents(t, uri)
	con := bootGuest(t, d, "tr", sock)
	if xml := mustVirsh(t, uri, "dumpxml tr"); strings.Contains(xml, "tray=") {
		t.Errorf("tray shown before any eject:\n%s", xml)
	}

	con.Send("gv-eject /dev/sr0")
	if _, err := con.Expect("GV-EJECT /dev/sr0 ok", 60*time.Second); err != nil {
		t.Fatalf("gv-eject: %v", err)
	}
	ev.expect(t, []string{"event 'tray-change' for domain 'tr' disk sata0-0-0: opened"}, 10*time.Second)
	if xml := mustVirsh(t, uri, "dumpxml tr"); !strings.Contains(xml, "<target dev='sda' bus='sata' tray='open'/>") {
		t.Errorf("live XML after the guest's eject:\n%s", xml)
	}

	if out := mustVirsh(t, uri, "change-media tr sda --eject"); !strings.Contains(out, "Successfully ejected media.") {
		t.Errorf("change-media --eject: %s", out)
	}
	xml := mustVirsh(t, uri, "dumpxml tr")
	if strings.Contains(xml, cd1) || strings.Contains(xml, "tray='open'") {
		t.Errorf("live XML after eject still has the medium or an open tray:\n%s", xml)
	}
	virshFails(t, uri, "change-media tr sda "+dir+"/nope.iso --insert", "Cannot access storage file")
	if out := mustVirsh(t, uri, "change-media tr sda "+cd2+" --insert"); !strings.Contains(out, "Successfully inserted media.") {
		t.Errorf("change-media --insert: %s", out)
	}
	if xml := mustVirsh(t, uri, "dumpxml tr"); !strings.Contains(xml, cd2) {
		t.Errorf("live XML after insert lacks %s:\n%s", cd2, xml)
	}
	if out := mustVirsh(t, uri, "change-media tr sda "+cd1+" --update --force"); !strings.Contains(out, "Successfully updated media.") {
		t.Errorf("change-media --update: %s", out)
	}
	if xml := mustVirsh(t, uri, "dumpxml tr"); !strings.Contains(xml, cd1) {
		t.Errorf("live XML after update lacks %s:\n%s", cd1, xml)
	}
	// The new medium is readable by the guest.
	con.Send("gv-sum /dev/sr0 64")
	if _, err := con.Expect("GV-SUM /dev/sr0 ", 60*time.Second); err != nil {
		t.Errorf("guest cannot read the new medium: %v", err)
	}
	// --config reaches the persistent definition too.
	mustVirsh(t, uri, "change-media tr sda "+cd2+" --update --live --config --force")
	if xml := mustVirsh(t, uri, "dumpxml tr --inactive"); !strings.Contains(xml, cd2) {
		t.Errorf("persistent XML after --config change lacks %s:\n%s", cd2, xml)
	}
	ev.expect(t, []string{"disk sata0-0-0: opened", "disk sata0-0-0: closed"}, 10*time.Second)
	mustVirsh(t, uri, "destroy tr")
}
