package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Issue 14's remaining QEMU calls through real virsh: migration
// parameters, dirty rate, block thresholds with their event, pool
// capabilities and ttyconsole, compared with libvirtd 9.0 where it runs
// here.

// runBoth runs each command on govirtd and, when libvirtd is up, on
// libvirtd with the guest name swapped, and wants the same stdout, stderr
// and exit status.
func runBoth(t *testing.T, uri, name, lvName string, cmds []string) {
	t.Helper()
	for _, c := range cmds {
		out, errOut, rc := virsh(t, uri, strings.ReplaceAll(c, "@", name))
		t.Logf("%s: rc=%d %q %q", c, rc, out, errOut)
		if lvName == "" {
			continue
		}
		lOut, lErr, lRC := virsh(t, libvirtdURI, strings.ReplaceAll(c, "@", lvName))
		if out != lOut || errOut != lErr || rc != lRC {
			t.Errorf("%s:\ngovirtd  rc=%d %q %q\nlibvirtd rc=%d %q %q", c, rc, out, errOut, lRC, lOut, lErr)
		}
	}
}

// libvirtdGuest creates a transient copy of a test guest on libvirtd
// (name prefixed "gvq-") and destroys it at the end; "" without libvirtd.
func libvirtdGuest(t *testing.T, name, devices string) string {
	t.Helper()
	if !libvirtdUp() {
		return ""
	}
	lv := "gvq-" + name
	path := filepath.Join(t.TempDir(), lv+".xml")
	if err := os.WriteFile(path, []byte(testGuestXML(t, lv, "", devices)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, rc := virsh(t, libvirtdURI, "create "+path); rc != 0 {
		t.Logf("libvirtd cannot run the guest, no comparison: %s", e)
		return ""
	}
	t.Cleanup(func() { virsh(t, libvirtdURI, "destroy "+lv) })
	return lv
}

// createGuest starts a transient guest with the given devices on govirtd.
func createGuest(t *testing.T, d *daemon, name, devices string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(testGuestXML(t, name, "", devices)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "create "+path)
}

// TestQEMUMigrationParams: migrate-getmaxdowntime, -setmaxdowntime,
// -getspeed, -setspeed (also --postcopy) and -compcache answer what QEMU's
// migration parameters hold, in libvirt's units, with libvirt's bounds;
// the precopy speed is kept by the driver and also set while shut off.
func TestQEMUMigrationParams(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	devs := "    <serial type='pty'><target port='0'/></serial>\n"
	createGuest(t, d, "mp", devs)
	lv := libvirtdGuest(t, "mp", devs)
	runBoth(t, uri, "mp", lv, []string{
		"migrate-getmaxdowntime @", "migrate-getspeed @", "migrate-getspeed @ --postcopy", "migrate-compcache @",
		"migrate-setmaxdowntime @ 1000", "migrate-getmaxdowntime @",
		"migrate-setspeed @ 100", "migrate-getspeed @",
		"migrate-setspeed @ 200 --postcopy", "migrate-getspeed @ --postcopy",
		"migrate-compcache @ --size 1048576", "migrate-compcache @",
		"migrate-setspeed @ 8796093022208", "migrate-setspeed @ 18446744073709551615 --postcopy",
		"migrate-setmaxdowntime @ 0",
	})
	// QEMU holds the values: they are its migration parameters.
	out := mustVirsh(t, uri, `qemu-monitor-command mp '{"execute":"query-migrate-parameters"}'`)
	for _, want := range []string{`"downtime-limit":1000`, `"max-bandwidth":104857600`, `"max-postcopy-bandwidth":209715200`, `"xbzrle-cache-size":1048576`} {
		if !strings.Contains(out, want) {
			t.Errorf("query-migrate-parameters lacks %s:\n%s", want, out)
		}
	}
	// A shut-off guest keeps a precopy speed; the rest needs QEMU.
	mustVirsh(t, uri, "destroy mp")
	defineGuest(t, d, "mp2", "")
	mustVirsh(t, uri, "migrate-setspeed mp2 42")
	if out := strings.TrimSpace(mustVirsh(t, uri, "migrate-getspeed mp2")); out != "42" {
		t.Errorf("migrate-getspeed of a shut-off guest: %q", out)
	}
	for _, c := range []string{"migrate-getmaxdowntime mp2", "migrate-setspeed mp2 1 --postcopy", "migrate-compcache mp2"} {
		if _, e, rc := virsh(t, uri, c); rc == 0 || !strings.Contains(e, "Requested operation is not valid: domain is not running") {
			t.Errorf("%s: rc=%d %q", c, rc, e)
		}
	}
}

// TestQEMUTTYConsole: a pty serial port gets libvirt's console alias
// (also when the definition names no console), and ttyconsole prints its
// pty.
func TestQEMUTTYConsole(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	path := filepath.Join(dir, "tty.xml")
	if err := os.WriteFile(path, []byte(testGuestXML(t, "tty", "", "    <serial type='pty'><target port='0'/></serial>\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	if out := mustVirsh(t, uri, "dumpxml --inactive tty"); !strings.Contains(out, "<console type='pty'>\n      <target type='serial' port='0'/>\n    </console>") {
		t.Errorf("no console alias in the definition:\n%s", out)
	}
	// No pty while shut off: virsh fails, as with libvirtd.
	if out, _, rc := virsh(t, uri, "ttyconsole tty"); rc != 1 || strings.TrimSpace(out) != "" {
		t.Errorf("ttyconsole of a shut-off guest: rc=%d %q", rc, out)
	}
	mustVirsh(t, uri, "start tty")
	live := mustVirsh(t, uri, "dumpxml tty")
	m := regexp.MustCompile(`<serial type='pty'>\s*<source path='(/dev/pts/\d+)'/>`).FindStringSubmatch(live)
	if m == nil {
		t.Fatalf("no pty in the live XML:\n%s", live)
	}
	if !strings.Contains(live, fmt.Sprintf("<console type='pty' tty='%s'>\n      <source path='%s'/>\n      <target type='serial' port='0'/>\n      <alias name='serial0'/>", m[1], m[1])) {
		t.Errorf("live console:\n%s", live)
	}
	if out := strings.TrimSpace(mustVirsh(t, uri, "ttyconsole tty")); out != m[1] {
		t.Errorf("ttyconsole = %q, want %q", out, m[1])
	}
	mustVirsh(t, uri, "destroy tty")
	mustVirsh(t, uri, "undefine tty")
}

// TestQEMUPoolCapabilities: pool-capabilities is libvirtd's document,
// supported='yes' on the pool types govirt runs (dir, fs, logical).
func TestQEMUPoolCapabilities(t *testing.T) {
	d := startDaemon(t)
	out := mustVirsh(t, d.URI("qemu"), "pool-capabilities")
	for _, typ := range []string{"dir", "fs", "logical"} {
		if !strings.Contains(out, "<pool type='"+typ+"' supported='yes'>") {
			t.Errorf("%s not supported:\n%s", typ, out)
		}
	}
	if n := strings.Count(out, "supported='yes'"); n != 3 {
		t.Errorf("%d types supported, want 3", n)
	}
	if !libvirtdUp() {
		return
	}
	lv, _, rc := virsh(t, libvirtdURI, "pool-capabilities")
	if rc != 0 {
		t.Fatal("libvirtd pool-capabilities failed")
	}
	norm := regexp.MustCompile(`supported='(yes|no)'`)
	if norm.ReplaceAllString(out, "") != norm.ReplaceAllString(lv, "") {
		t.Errorf("govirtd:\n%s\nlibvirtd:\n%s", out, lv)
	}
}

// TestQEMUBlockThresholdDirtyRate runs a guest with a qcow2 disk:
// domblkthreshold arms QEMU's write threshold, and a write through the
// disk's device past it raises the block-threshold events virsh event
// sees (the disk and its image by index; only the indexed one when armed
// by index); bad disk names fail as in libvirt. domdirtyrate-calc then
// measures and domstats --dirtyrate reports. The writes go through the
// virtio disk's block backend with HMP qemu-io, the path a guest's writes
// take, so the test needs no booted guest (a guest writing with dd gives
// the same events).
func TestQEMUBlockThresholdDirtyRate(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	img := filepath.Join(t.TempDir(), "bt.qcow2")
	qemuImg(t, "create", "-f", "qcow2", img, "64M")
	defineDiskGuest(t, d, "bt", img, "qcow2")
	ev := watchEvents(t, uri)
	mustVirsh(t, uri, "start bt")
	write := func(off, n string) {
		t.Helper()
		out := mustVirsh(t, uri, `qemu-monitor-command --hmp bt 'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write `+off+` `+n+`"'`)
		if strings.TrimSpace(out) != "" { // qemu-io answers only errors here
			t.Fatalf("qemu-io: %s", out)
		}
	}

	for cmd, want := range map[string]string{
		"domblkthreshold bt vdb 1M":    "error: invalid argument: failed to find disk 'vdb'",
		"domblkthreshold bt vda[2] 1M": "error: invalid argument: failed to find disk 'vda[2]'",
		"domblkthreshold bt vda[x] 1M": "error: invalid argument: failed to parse block device 'vda[x]'",
	} {
		if _, e, rc := virsh(t, uri, cmd); rc == 0 || !strings.Contains(e, want) {
			t.Errorf("%s: rc=%d %q, want %q", cmd, rc, e, want)
		}
	}
	mustVirsh(t, uri, "domblkthreshold bt vda 1M")
	write("0", "2M")
	ev.expect(t, []string{"event 'block-threshold' for domain 'bt': dev: vda(" + img + ") 1048576 ",
		"event 'block-threshold' for domain 'bt': dev: vda[1](" + img + ") 1048576 "}, 30*time.Second)
	// Armed through the index, only the indexed event comes.
	mustVirsh(t, uri, "domblkthreshold bt vda[1] 4M")
	write("8M", "2M")
	ev.expect(t, []string{"dev: vda[1](" + img + ") 4194304 "}, 30*time.Second)
	time.Sleep(time.Second)
	ev.mu.Lock()
	lines := append([]string(nil), ev.lines...)
	ev.mu.Unlock()
	for _, l := range lines {
		if strings.Contains(l, "dev: vda("+img+") 4194304") {
			t.Errorf("unindexed event for an indexed threshold: %s", l)
		}
	}

	// Dirty rate: measured over a second, reported by domstats.
	if _, e, rc := virsh(t, uri, "domdirtyrate-calc bt --seconds 70"); rc == 0 ||
		!strings.Contains(e, "error: unsupported configuration: seconds=70 is invalid, please choose value within [1, 60].") {
		t.Errorf("seconds=70: rc=%d %q", rc, e)
	}
	if _, e, rc := virsh(t, uri, "domdirtyrate-calc bt --seconds 1 --mode dirty-ring"); rc == 0 ||
		!strings.Contains(e, "error: Operation not supported: dirty-ring calculation mode requires dirty-ring feature enabled.") {
		t.Errorf("dirty-ring: rc=%d %q", rc, e)
	}
	if out := mustVirsh(t, uri, "domstats --dirtyrate bt"); !strings.Contains(out, "dirtyrate.calc_status=0\n  dirtyrate.calc_start_time=0\n  dirtyrate.calc_period=0\n  dirtyrate.calc_mode=page-sampling\n") {
		t.Errorf("before any calculation:\n%s", out)
	}
	mustVirsh(t, uri, "domdirtyrate-calc bt --seconds 1")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := mustVirsh(t, uri, "domstats --dirtyrate bt")
		if strings.Contains(out, "dirtyrate.calc_status=2") {
			if !regexp.MustCompile(`dirtyrate.calc_period=1\n  dirtyrate.calc_mode=page-sampling\n  dirtyrate.megabytes_per_second=\d+\n`).MatchString(out) {
				t.Errorf("measured:\n%s", out)
			}
			break
		}
		if !strings.Contains(out, "dirtyrate.calc_status=1") || time.Now().After(deadline) {
			t.Fatalf("measuring:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := mustVirsh(t, uri, "domstats bt"); !strings.Contains(out, "dirtyrate.calc_status=2") {
		t.Errorf("domstats without groups lacks dirtyrate:\n%s", out)
	}
}

// TestQEMUSetVcpu: setvcpu plugs one vCPU of a running guest (device_add
// of its hotpluggable CPU slot), refuses what libvirt refuses with its
// messages (compared with libvirtd), and changes the persistent vCPU
// states (TestQEMUVcpuStates covers the <vcpus> list).
func TestQEMUSetVcpu(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	devs := "    <serial type='pty'><target port='0'/></serial>\n"
	withVcpus := func(name string) string {
		return strings.Replace(testGuestXML(t, name, "", devs), "<vcpu>1</vcpu>", "<vcpu current='1'>3</vcpu>", 1)
	}
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(p, []byte(withVcpus(name)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mustVirsh(t, uri, "create "+write("sv"))
	lv := ""
	if libvirtdUp() {
		if _, e, rc := virsh(t, libvirtdURI, "create "+write("gvq-sv")); rc == 0 {
			lv = "gvq-sv"
			t.Cleanup(func() { virsh(t, libvirtdURI, "destroy gvq-sv") })
		} else {
			t.Logf("libvirtd cannot run the guest, no comparison: %s", e)
		}
	}
	runBoth(t, uri, "sv", lv, []string{
		"setvcpu @ 1 --enable --live", "setvcpu @ 0 --disable --live", "setvcpu @ 1 --enable --live",
		"setvcpu @ 1-2 --enable --live", "setvcpu @ 5 --enable --live", "setvcpu @ 2 --disable --live",
		"setvcpu @ x --enable", "setvcpu @ 4096 --enable", "setvcpu @ 1 --enable --config",
		"vcpucount @ --live",
	})
	if out := mustVirsh(t, uri, `qemu-monitor-command sv '{"execute":"query-hotpluggable-cpus"}'`); !strings.Contains(out, `"qom-path":"/machine/peripheral/vcpu1"`) {
		t.Errorf("vcpu1 not plugged as a device:\n%s", out)
	}
	mustVirsh(t, uri, "destroy sv")

	// The persistent definition: vCPU 0 stays, the others in order.
	mustVirsh(t, uri, "define "+write("svc"))
	mustVirsh(t, uri, "setvcpu svc 1 --enable --config")
	mustVirsh(t, uri, "setvcpu svc 2 --enable")
	if out := mustVirsh(t, uri, "vcpucount svc --config --current"); strings.TrimSpace(out) != "3" {
		t.Errorf("config vcpus %q", out)
	}
	for cmd, want := range map[string]string{
		"setvcpu svc 0 --disable --config": "error: invalid argument: vCPU '0' can't be modified",
		"setvcpu svc 3 --enable --config":  "error: invalid argument: vcpu 3 is not present in persistent config",
		"setvcpu svc 1 --enable --live":    "error: Requested operation is not valid: domain is not running",
	} {
		if _, e, rc := virsh(t, uri, cmd); rc == 0 || !strings.Contains(e, want) {
			t.Errorf("%s: rc=%d %q, want %q", cmd, rc, e, want)
		}
	}
	mustVirsh(t, uri, "setvcpu svc 2 --disable --config")
	if out := mustVirsh(t, uri, "vcpucount svc --config --current"); strings.TrimSpace(out) != "2" {
		t.Errorf("config vcpus %q", out)
	}
	mustVirsh(t, uri, "undefine svc")
}
