package remote

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"govirt/drivers/qemu"
	testdrv "govirt/drivers/test"
)

// FuzzDispatch drives every REMOTE, QEMU and LXC procedure against
// test:///default, read-write and read-only.
func FuzzDispatch(f *testing.F) {
	e := newFzEnv(f, "test:///default", testdrv.New())
	e.seeds(f)
	e.addPairSeeds(f)
	f.Fuzz(e.fuzz)
}

// FuzzDispatchQEMU drives the read-only procedures against the QEMU
// driver (temp directories, one defined guest, no QEMU binary: nothing it
// does may start a process), read-only only: its read-write procedures
// act on the host (bridges, firewall, LVM).
func FuzzDispatchQEMU(f *testing.F) {
	dir := f.TempDir()
	state, run := filepath.Join(dir, "state"), filepath.Join(dir, "run")
	def := `<domain type='kvm'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>` +
		`<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>` +
		`<disk type='file' device='disk'><source file='/nonexistent/fz.img'/><target dev='vda' bus='virtio'/></disk>` +
		`<interface type='user'><mac address='52:54:00:00:00:01'/></interface>` +
		`<graphics type='vnc' passwd='secret'/></devices></domain>`
	// An inactive network and pool under the names the filler uses.
	net := `<network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid><bridge name='fzbr0'/>` +
		`<ip address='192.168.250.1' netmask='255.255.255.0'><dhcp><range start='192.168.250.2' end='192.168.250.9'/></dhcp></ip></network>`
	pool := `<pool type='dir'><name>default-pool</name><uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>` +
		`<target><path>` + filepath.Join(dir, "pool") + `</path></target></pool>`
	for p, x := range map[string]string{"qemu/test.xml": def, "network/default.xml": net, "storage/default-pool.xml": pool} {
		p = filepath.Join(state, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(x), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	d := qemu.New(qemu.Config{StateDir: state, RunDir: run, Emulator: filepath.Join(dir, "no-qemu"), Log: slog.New(slog.DiscardHandler)})
	if err := d.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	uri := "qemu:///session"
	if os.Geteuid() == 0 {
		uri = "qemu:///system"
	}
	e := newFzEnv(f, uri, d)
	e.rwAllowed = func(uint32, int32) bool { return false }
	e.seeds(f)
	f.Fuzz(e.fuzz)
}
