package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Everyday calls of issue 14 checked through virsh and python-libvirt on a
// running test guest; every expected error text below is libvirtd 9.0's
// answer to the same call on this host.

func requireQEMURoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
}

// defineCallsGuest defines the test guest with devices and no display:
// these tests need none, and another daemon's guest on this host may
// take the VNC port govirtd picked.
func defineCallsGuest(t *testing.T, d *daemon, name, devices string) {
	t.Helper()
	xml := testGuestXML(t, name, "", devices)
	xml = strings.Replace(xml, "<domain type='kvm'>", "<domain type='qemu'>", 1)
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
}

// expectVirshErr runs a virsh command that must fail with want in stderr.
func expectVirshErr(t *testing.T, uri, cmd, want string) {
	t.Helper()
	out, errOut, rc := virsh(t, uri, strings.Fields(cmd)...)
	if rc == 0 || !strings.Contains(errOut, want) {
		t.Errorf("virsh %s: rc=%d\n%s%s\nwant error %q", cmd, rc, out, errOut, want)
	}
}

// TestQEMUBlockResizeAndPeek: blockresize (KiB and bytes) on the format
// node of a running guest's disk, peeks at guest memory (memsave,
// pmemsave) and at a disk's image; block peek opens only images the
// guest's definition names.
func TestQEMUBlockResizeAndPeek(t *testing.T) {
	requireQEMURoot(t)
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	disk := rawImage(t, dir, "rp.img", "8M")
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("GOVIRTPEEKDATA!!"), 4096)
	f.Close()
	defineCallsGuest(t, d, "rp", `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='`+disk+`'/>
  <target dev='vda' bus='virtio'/>
</disk>
`)
	expectVirshErr(t, uri, "blockresize rp vda 16M", "error: Requested operation is not valid: domain is not running")
	mustVirsh(t, uri, "start rp")
	if out := mustVirsh(t, uri, "blockresize rp vda 16M"); !strings.Contains(out, "Block device 'vda' is resized") {
		t.Errorf("blockresize: %q", out)
	}
	if out := mustVirsh(t, uri, "domblkinfo rp vda"); !strings.Contains(out, "Capacity:       16777216") {
		t.Errorf("after resize to 16M: %s", out)
	}
	mustVirsh(t, uri, "blockresize rp "+disk+" --size 20971520b")
	if out := mustVirsh(t, uri, "domblkinfo rp vda"); !strings.Contains(out, "Capacity:       20971520") {
		t.Errorf("after resize to 20971520 bytes: %s", out)
	}
	if fi, err := os.Stat(disk); err != nil || fi.Size() != 20971520 {
		t.Errorf("image size after resize: %v %v", fi.Size(), err)
	}
	expectVirshErr(t, uri, "blockresize rp vdb 1M", "error: invalid argument: disk 'vdb' was not found in the domain config")

	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	got := pythonTranscript(t, "testdata/python/peek.py", uri, "rp", disk)
	want := []string{
		"mem.phys ok 64 ",
		"mem.virt ok 64 ",
		"mem.noflag err 8 10 invalid argument: flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL",
		"mem.badflag err 8 10 unsupported flags (0x4) in function qemuDomainMemoryPeek",
		"mem.toobig err 39 13 memory peek request too large for remote protocol, 5000000 > 4194304",
		"blk.target ok 16 474f564952545045454b444154412121",
		"blk.path ok 16 474f564952545045454b444154412121",
		"blk.past err 8 10 invalid argument: 'vda' starting from 1099511627776 has only 0 bytes available",
		"blk.host err 8 10 invalid argument: disk '/etc/passwd' not found in domain",
		"blk.nodisk err 8 10 invalid argument: disk 'vdz' not found in domain",
		"blk.badflag err 8 10 unsupported flags (0x1) in function qemuDomainBlockPeek",
		"blk.toobig err 39 13 block peek request too large for remote protocol, 5000000 > 4194304",
	}
	if len(got) != len(want) {
		t.Fatalf("peek transcript:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// TestQEMURename: domrename of a shut-off guest moves its definition,
// autostart mark and snapshot metadata to the new name, with libvirt's
// UNDEFINED/DEFINED "renamed" events; libvirt's refusals otherwise.
func TestQEMURename(t *testing.T) {
	requireQEMURoot(t)
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	disk := rawImage(t, dir, "rn.img", "8M")
	defineCallsGuest(t, d, "rn", `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='`+disk+`'/>
  <target dev='vda' bus='virtio'/>
</disk>
`)
	defineCallsGuest(t, d, "other", "")
	mustVirsh(t, uri, "autostart rn")
	mustVirsh(t, uri, "snapshot-create-as rn s1 --disk-only")

	events := watchEvents(t, uri)
	expectVirshErr(t, uri, "domrename rn rn", "error: Requested operation is not valid: Can't rename domain to itself")
	expectVirshErr(t, uri, "domrename rn other", "error: Requested operation is not valid: domain with name 'other' already exists")
	expectVirshErr(t, uri, "domrename rn a/b", "error: XML error: name a/b cannot contain '/'")
	if out := mustVirsh(t, uri, "domrename rn renamed"); !strings.Contains(out, "Domain successfully renamed") {
		t.Errorf("domrename: %q", out)
	}
	expectVirshErr(t, uri, "dominfo rn", "error: failed to get domain 'rn'")
	if out := mustVirsh(t, uri, "dominfo renamed"); !strings.Contains(out, "Autostart:      enable") {
		t.Errorf("autostart did not follow the rename:\n%s", out)
	}
	if out := mustVirsh(t, uri, "snapshot-list renamed --name"); strings.TrimSpace(out) != "s1" {
		t.Errorf("snapshots after rename: %q", out)
	}
	for name, want := range map[string]bool{"renamed.xml": true, "rn.xml": false, "autostart/renamed.xml": true, "autostart/rn.xml": false} {
		if _, err := os.Stat(filepath.Join(d.dir, "state", "qemu", name)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", name, err == nil, want)
		}
	}
	events.expect(t, []string{"event 'lifecycle' for domain 'rn': Undefined Renamed", "event 'lifecycle' for domain 'renamed': Defined Renamed"}, 5*time.Second)

	mustVirsh(t, uri, "start renamed")
	expectVirshErr(t, uri, "domrename renamed x", "error: Requested operation is not valid: cannot rename active domain")
	mustVirsh(t, uri, "managedsave renamed")
	expectVirshErr(t, uri, "domrename renamed x", "error: Requested operation is not valid: domain with a managed saved state can't be renamed")
	mustVirsh(t, uri, "start renamed")
	mustVirsh(t, uri, "destroy renamed")

	// The daemon restarted finds the guest under its new name only.
	d.crashRestart()
	if out := mustVirsh(t, uri, "list --all --name"); strings.Contains(out, "rn\n") || !strings.Contains(out, "renamed") {
		t.Errorf("after restart: %q", out)
	}
}

// TestQEMUSaveImageXML: managedsave-dumpxml/-define and
// save-image-dumpxml/-define read and replace the definition a save
// image carries; an ABI-incompatible change is refused with libvirt's
// message, --paused/--running change whether the restored guest runs.
func TestQEMUSaveImageXML(t *testing.T) {
	requireQEMURoot(t)
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	defineCallsGuest(t, d, "si", `<interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>
`)
	expectVirshErr(t, uri, "managedsave-dumpxml si", "error: Requested operation is not valid: domain does not have managed save image")
	mustVirsh(t, uri, "start si")
	mustVirsh(t, uri, "managedsave si")
	x := mustVirsh(t, uri, "managedsave-dumpxml si")
	if !strings.Contains(x, "<name>si</name>") || regexp.MustCompile(`<source[^>]* index=`).MatchString(x) || strings.Contains(x, "<domain type='qemu' id=") {
		t.Fatalf("managedsave-dumpxml:\n%s", x)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.xml", strings.Replace(x, "52:54:00:aa:bb:cc", "52:54:00:aa:bb:cd", 1))
	expectVirshErr(t, uri, "managedsave-define si "+bad, "error: unsupported configuration: Target network card mac 52:54:00:aa:bb:cd does not match source 52:54:00:aa:bb:cc")
	badMem := write("badmem.xml", strings.Replace(x, "<memory unit='KiB'>131072</memory>", "<memory unit='KiB'>262144</memory>", 1))
	expectVirshErr(t, uri, "managedsave-define si "+badMem, "error: unsupported configuration: Target domain max memory 262144 does not match source 131072")
	good := write("good.xml", strings.Replace(x, "<name>si</name>", "<name>si</name>\n  <title>edited</title>", 1))
	if out := mustVirsh(t, uri, "managedsave-define si "+good+" --paused"); !strings.Contains(out, "Managed save state file of domain 'si' updated.") {
		t.Errorf("managedsave-define: %q", out)
	}
	if x2 := mustVirsh(t, uri, "managedsave-dumpxml si"); !strings.Contains(x2, "<title>edited</title>") {
		t.Errorf("new XML not in the image:\n%s", x2)
	}
	mustVirsh(t, uri, "start si")
	if st := domState(t, d, "si"); st != "paused (migrating)" {
		t.Errorf("restored from an image defined --paused: %q", st)
	}
	if out := mustVirsh(t, uri, "desc si --title"); strings.TrimSpace(out) != "edited" {
		t.Errorf("title after restore: %q", out)
	}

	img := filepath.Join(dir, "si.sav")
	mustVirsh(t, uri, "save si "+img)
	x = mustVirsh(t, uri, "save-image-dumpxml "+img)
	good2 := write("good2.xml", strings.Replace(x, "<title>edited</title>", "<title>again</title>", 1))
	if out := mustVirsh(t, uri, "save-image-define "+img+" "+good2+" --running"); !strings.Contains(out, "State file "+img+" updated.") {
		t.Errorf("save-image-define: %q", out)
	}
	if out := mustVirsh(t, uri, "save-image-dumpxml "+img+" --xpath //title"); strings.TrimSpace(out) != "<title>again</title>" {
		t.Errorf("save-image-dumpxml after define: %q", out)
	}
	mustVirsh(t, uri, "restore "+img)
	if st := domState(t, d, "si"); st != "running (restored)" {
		t.Errorf("restored from an image defined --running: %q", st)
	}

	// save --xml and restore --xml take a new definition under the same
	// check.
	x = mustVirsh(t, uri, "dumpxml --migratable si")
	badSave := write("badsave.xml", strings.Replace(x, "52:54:00:aa:bb:cc", "52:54:00:aa:bb:cd", 1))
	expectVirshErr(t, uri, "save si "+img+" --xml "+badSave, "error: unsupported configuration: Target network card mac 52:54:00:aa:bb:cd does not match source 52:54:00:aa:bb:cc")
	if st := domState(t, d, "si"); st != "running (restored)" {
		t.Errorf("after a refused save --xml: %q", st)
	}
	mustVirsh(t, uri, "save si "+img)
	third := write("third.xml", strings.Replace(mustVirsh(t, uri, "save-image-dumpxml "+img), "<title>again</title>", "<title>third</title>", 1))
	mustVirsh(t, uri, "restore "+img+" --xml "+third)
	if out := mustVirsh(t, uri, "desc si --title"); strings.TrimSpace(out) != "third" {
		t.Errorf("title after restore --xml: %q", out)
	}
	expectVirshErr(t, uri, "save-image-dumpxml /etc/passwd", "error: operation failed: image magic is incorrect")
	expectVirshErr(t, uri, "save-image-dumpxml "+filepath.Join(dir, "none"), "error: Failed to open file '"+filepath.Join(dir, "none")+"': No such file or directory")
}

// TestQEMUCoreDump: virsh dump as memory-only ELF and kdump cores and as
// a full (migration stream) dump, with --crash, domjobinfo while it runs
// and libvirt's refusals.
func TestQEMUCoreDump(t *testing.T) {
	requireQEMURoot(t)
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	defineCallsGuest(t, d, "cd", "")
	expectVirshErr(t, uri, "dump cd "+filepath.Join(dir, "x"), "error: Requested operation is not valid: domain is not running")
	mustVirsh(t, uri, "start cd")

	elf := filepath.Join(dir, "cd.elf")
	mustVirsh(t, uri, "dump cd "+elf+" --memory-only")
	if b, err := os.ReadFile(elf); err != nil || !bytes.HasPrefix(b, []byte("\x7fELF")) || len(b) < 128<<20 {
		t.Errorf("memory-only dump: %d bytes, %v", len(b), err)
	}
	if st := domState(t, d, "cd"); st != "running (unpaused)" {
		t.Errorf("after dump: %q", st)
	}
	kd := filepath.Join(dir, "cd.kdump")
	mustVirsh(t, uri, "dump cd "+kd+" --memory-only --format kdump-zlib")
	// QEMU writes kdump cores to a descriptor in makedumpfile's
	// flattened format.
	if b, err := os.ReadFile(kd); err != nil || !bytes.HasPrefix(b, []byte("makedumpfile")) {
		t.Errorf("kdump-zlib dump: %.8q %v", b, err)
	}
	expectVirshErr(t, uri, "dump cd "+kd+" --memory-only --format kdump-snappy", "error: invalid argument: unsupported dumpformat 'kdump-snappy' for this QEMU binary")
	expectVirshErr(t, uri, "dump cd /nonexistent/cd.core", "error: Failed to create file '/nonexistent/cd.core': No such file or directory")
	expectVirshErr(t, uri, "dump cd "+kd+" --live --reset", "error: Flags 'VIR_DUMP_LIVE' and 'VIR_DUMP_RESET' are mutually exclusive")

	// A full dump is QEMU's migration stream; domjobinfo shows the dump
	// job while it runs.
	full := filepath.Join(dir, "cd.full")
	done := make(chan string, 1)
	go func() {
		out, errOut, _ := virsh(t, uri, "dump", "cd", full)
		done <- out + errOut
	}()
	seen := false
	for waiting := true; waiting; {
		select {
		case out := <-done:
			if !strings.Contains(out, "Domain 'cd' dumped to "+full) {
				t.Errorf("full dump: %q", out)
			}
			waiting = false
		case <-time.After(20 * time.Millisecond):
			if out, _, _ := virsh(t, uri, "domjobinfo", "cd"); strings.Contains(out, "Operation:        Dump") {
				seen = true
			}
		}
	}
	if !seen {
		t.Log("the dump finished before domjobinfo saw it")
	}
	if fi, err := os.Stat(full); err != nil || fi.Size() < 1<<20 {
		t.Errorf("full dump file: %v", err)
	}
	if st := domState(t, d, "cd"); st != "running (unpaused)" {
		t.Errorf("after full dump: %q", st)
	}
	// domjobabort: a full dump is cancelled with libvirt's error, a
	// memory-only one cannot be aborted. Each is checked when the abort
	// reaches the dump while it runs.
	abortDuring := func(args, wantAbort, wantDump string) {
		t.Helper()
		done := make(chan string, 1)
		go func() {
			out, errOut, _ := virsh(t, uri, strings.Fields(args)...)
			done <- out + errOut
		}()
		var abortOut string
		for abortOut == "" {
			select {
			case out := <-done:
				t.Logf("virsh %s finished before the abort: %s", args, out)
				return
			case <-time.After(10 * time.Millisecond):
				if out, _, _ := virsh(t, uri, "domjobinfo", "cd"); strings.Contains(out, "Operation:        Dump") {
					o, e, _ := virsh(t, uri, "domjobabort", "cd")
					abortOut = o + e
				}
			}
		}
		out := <-done
		if strings.Contains(abortOut, "no job is active") || (strings.TrimSpace(abortOut) == "" && strings.Contains(out, "Domain 'cd' dumped to")) {
			// QEMU had finished the stream when the abort came.
			t.Logf("virsh %s finished before the abort", args)
			return
		}
		if !strings.Contains(abortOut, wantAbort) || !strings.Contains(out, wantDump) {
			t.Errorf("domjobabort during %s: %q; dump: %q", args, abortOut, out)
		}
	}
	abortDuring("dump cd "+full, "", "error: operation aborted: job 'domain core dump' canceled by client")
	abortDuring("dump cd "+elf+" --memory-only", "error: Requested operation is not valid: cannot abort memory-only dump", "Domain 'cd' dumped to "+elf)
	if st := domState(t, d, "cd"); st != "running (unpaused)" {
		t.Errorf("after the aborted dumps: %q", st)
	}

	mustVirsh(t, uri, "dump cd "+elf+" --memory-only --crash")
	if st := domState(t, d, "cd"); st != "shut off (crashed)" {
		t.Errorf("after dump --crash: %q", st)
	}
}

// TestQEMUDetachDeviceAlias: detach-device-alias removes a user-aliased
// disk from the persistent definition and sends the unplug request for
// the running guest's device without waiting, as libvirt.
func TestQEMUDetachDeviceAlias(t *testing.T) {
	requireQEMURoot(t)
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	disk := rawImage(t, dir, "da.img", "4M")
	defineCallsGuest(t, d, "da", hotplugPorts+`<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='`+disk+`'/>
  <target dev='vdb' bus='virtio'/>
  <alias name='ua-data'/>
</disk>
`)
	mustVirsh(t, uri, "start da")
	expectVirshErr(t, uri, "detach-device-alias da nonexist", "error: internal error: no device found with alias nonexist")
	if out := mustVirsh(t, uri, "detach-device-alias da ua-data --config"); !strings.Contains(out, "Device detach request sent successfully") {
		t.Errorf("detach-device-alias --config: %q", out)
	}
	if out := mustVirsh(t, uri, "domblklist da --inactive"); strings.Contains(out, "vdb") {
		t.Errorf("vdb still in the persistent definition:\n%s", out)
	}
	expectVirshErr(t, uri, "detach-device-alias da ua-data --config", "error: internal error: no device found with alias ua-data")
	if out := mustVirsh(t, uri, "detach-device-alias da ua-data --live"); !strings.Contains(out, "Device detach request sent successfully") {
		t.Errorf("detach-device-alias --live: %q", out)
	}
	expectVirshErr(t, uri, "detach-device-alias da input0", "error: Operation not supported: input device on bus 'ps2' cannot be detached")
	mustVirsh(t, uri, "destroy da")
	expectVirshErr(t, uri, "detach-device-alias da ua-data --live", "error: Requested operation is not valid: domain is not running")
}

// TestQEMURenameNVRAM: the UEFI varstore govirt named after the guest
// moves with a rename, so the renamed guest keeps its variables (libvirt
// keeps the store's path in the definition, with the same effect).
func TestQEMURenameNVRAM(t *testing.T) {
	requireQEMURoot(t)
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	if descs, _ := filepath.Glob("/usr/share/qemu/firmware/*x86_64*.json"); len(descs) == 0 {
		t.Skip("no UEFI firmware descriptors (ovmf not installed)")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	path := filepath.Join(t.TempDir(), "fw.xml")
	if err := os.WriteFile(path, []byte(`<domain type='qemu'>
  <name>fw</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <devices/>
</domain>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start fw")
	mustVirsh(t, uri, "destroy fw")
	dir := filepath.Join(d.dir, "state", "qemu", "nvram")
	old, err := os.ReadFile(filepath.Join(dir, "fw_VARS.fd"))
	if err != nil {
		t.Fatalf("varstore not created: %v", err)
	}
	mustVirsh(t, uri, "domrename fw fw2")
	moved, err := os.ReadFile(filepath.Join(dir, "fw2_VARS.fd"))
	if err != nil || !bytes.Equal(moved, old) {
		t.Errorf("varstore did not move with the rename: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fw_VARS.fd")); err == nil {
		t.Errorf("the old varstore is still there")
	}
	mustVirsh(t, uri, "start fw2")
	if live := mustVirsh(t, uri, "dumpxml fw2"); !strings.Contains(live, "fw2_VARS.fd</nvram>") {
		t.Errorf("renamed guest does not use its moved varstore:\n%s", live)
	}
	mustVirsh(t, uri, "destroy fw2")
	mustVirsh(t, uri, "undefine fw2 --nvram")
	if _, err := os.Stat(filepath.Join(dir, "fw2_VARS.fd")); err == nil {
		t.Errorf("undefine --nvram left the moved varstore")
	}
}
