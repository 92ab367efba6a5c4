package remote

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"govirt/access"
	"govirt/drivers/qemu"
	testdrv "govirt/drivers/test"
	"govirt/internal/dispatchfuzz"
	"govirt/rpc/procs"
)

// FuzzDispatch drives every REMOTE, QEMU and LXC procedure against
// test:///default, read-write and read-only.
func FuzzDispatch(f *testing.F) {
	e := newFzEnv(f, "test:///default", testdrv.New())
	e.seeds(f)
	e.addPairSeeds(f)
	f.Fuzz(e.fuzz)
}

// FuzzDispatchQEMU drives every procedure read-only against the QEMU
// driver (temp directories, one defined guest, an inactive network and
// pool, no QEMU binary: nothing it does may start a process), and read-write
// only those libvirt allows read-only and the ones that change definitions
// (qemuRW): the others act on
// the host (processes, bridges, firewall, LVM). Read-write bodies must not
// contain "..", so no name can lead outside the driver's temp directories
// (paths in definitions are only stored, never written).
func FuzzDispatchQEMU(f *testing.F) {
	uri := "qemu:///session"
	if os.Geteuid() == 0 {
		uri = "qemu:///system"
	}
	e := newFzEnv(f, uri, newQEMUDriver(f, f.TempDir()))
	e.rwAllowed = func(prog uint32, proc int32) bool {
		if prog == procs.ProgramRemote && qemuRW[proc] {
			return true
		}
		// What libvirt lets read-only connections do only reads.
		for _, r := range procs.Lookup(prog, proc).ReadOnly {
			if r.Kind == procs.ROAlways {
				return false
			}
		}
		return true
	}
	e.rwBody = func(b []byte) bool { return !bytes.Contains(b, []byte("..")) }
	e.freshRW = func(t *testing.T, reqs []dispatchfuzz.Req) *Server {
		for _, r := range reqs {
			if r.Prog == procs.ProgramRemote && qemuRW[r.Proc] {
				return NewServer(slog.New(slog.DiscardHandler), newQEMUDriver(t, t.TempDir()))
			}
		}
		return nil
	}
	e.seeds(f)
	e.addPairSeeds(f)
	f.Fuzz(e.fuzz)
}

// newQEMUDriver starts a QEMU driver in dir with one defined guest and an
// inactive network and pool, under the names the filler uses.
func newQEMUDriver(tb testing.TB, dir string) *qemu.Driver {
	state, run := filepath.Join(dir, "state"), filepath.Join(dir, "run")
	def := `<domain type='kvm'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>` +
		`<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>` +
		`<disk type='file' device='disk'><source file='/nonexistent/fz.img'/><target dev='vda' bus='virtio'/></disk>` +
		`<interface type='user'><mac address='52:54:00:00:00:01'/></interface>` +
		`<graphics type='vnc' passwd='secret'/></devices></domain>`
	net := `<network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid><bridge name='fzbr0'/>` +
		`<ip address='192.168.250.1' netmask='255.255.255.0'><dhcp><range start='192.168.250.2' end='192.168.250.9'/></dhcp></ip></network>`
	pool := `<pool type='dir'><name>default-pool</name><uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>` +
		`<target><path>` + filepath.Join(dir, "pool") + `</path></target></pool>`
	for p, x := range map[string]string{"qemu/test.xml": def, "network/default.xml": net, "storage/default-pool.xml": pool} {
		p = filepath.Join(state, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(x), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	d := qemu.New(qemu.Config{StateDir: state, RunDir: run, Emulator: filepath.Join(dir, "no-qemu"), Log: slog.New(slog.DiscardHandler)})
	if err := d.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return d
}

// qemuRW are the procedures that only change definitions and metadata of
// inactive objects on the QEMU connection.
var qemuRW = map[int32]bool{
	procs.DomainDefineXML: true, procs.DomainDefineXMLFlags: true, procs.DomainUndefine: true,
	procs.DomainUndefineFlags: true, procs.DomainSetAutostart: true, procs.DomainSetMetadata: true,
	procs.DomainSetMemoryFlags: true, procs.DomainSetMaxMemory: true, procs.DomainSetMemory: true,
	procs.DomainSetVcpusFlags: true, procs.DomainSetVcpus: true, procs.DomainRename: true,
	procs.DomainSetSchedulerParameters: true, procs.DomainSetSchedulerParametersFlags: true,
	procs.DomainSetBlkioParameters: true, procs.DomainSetMemoryParameters: true,
	procs.DomainSetNumaParameters: true, procs.DomainPinVcpuFlags: true, procs.DomainPinEmulator: true,
	procs.DomainSetPerfEvents: true, procs.DomainAttachDeviceFlags: true, procs.DomainDetachDeviceFlags: true,
	procs.DomainUpdateDeviceFlags: true, procs.DomainManagedSaveRemove: true,
	procs.NetworkDefineXML: true, procs.NetworkUndefine: true, procs.NetworkSetAutostart: true,
	procs.StoragePoolDefineXML: true, procs.StoragePoolUndefine: true, procs.StoragePoolSetAutostart: true,
}

// FuzzDispatchACL is FuzzDispatch with access control on: the client may
// see and use the domain "test" and the default pool, read the host, and
// nothing else, so checks, lookups' checks and list filters all run.
func FuzzDispatchACL(f *testing.F) {
	e := newFzEnv(f, "test:///default", testdrv.New())
	rs, err := access.ParseRules(`
allow object=connect
allow object=domain name=test
allow object=storage_pool,storage_vol perm=getattr,read,search_storage_vols
allow object=network perm=getattr
deny
`)
	if err != nil {
		f.Fatal(err)
	}
	e.base.SetAccess(access.NewWithRules(rs))
	e.seeds(f)
	e.addPairSeeds(f)
	f.Fuzz(e.fuzz)
}
