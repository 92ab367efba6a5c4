package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// Guests shaped as real clients write them, started through govirtd
// under TCG (KVM here lacks SMM and the Hyper-V MSRs): what each
// element asked for is checked in the running QEMU (QOM properties over
// QMP, its command line) and, where it shows, inside the test guest; the
// command line options of the shape are compared with libvirtd's
// domxml-to-native for the same definition when libvirtd runs here.

// TestShapedWindowsVirtInstall: virt-install 4.1's Windows 10 guest
// (--osinfo win10: Hyper-V relaxed/vapic/spinlocks, localtime clock, RTC
// catchup, PIT delay, no HPET, hypervclock, q35 with SATA disk, e1000e,
// SPICE, qxl, ich9 sound, USB redirection), plus the enlightenments a
// user adds with --features and --xml that QEMU's TCG takes (vpindex and
// what needs it, synic, stimer and ipi, QEMU 7.2 refuses without KVM:
// "kernel doesn't allow setting HyperV VP_INDEX"). It boots the test
// guest's kernel in place of Windows.
func TestShapedWindowsVirtInstall(t *testing.T) {
	needTool(t, "virt-install", "virtinst")
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	kernel, initrd := testguest.Ensure(t)
	disk := qcow2Disk(t, t.TempDir(), "win.qcow2")
	sock := filepath.Join(d.dir, "win.console")
	args := []string{"--connect", uri, "--name", "win", "--memory", "256", "--vcpus", "2",
		"--osinfo", "win10", "--import", "--disk", disk, "--virt-type", "qemu", "--network", "user", "--noautoconsole",
		"--boot", "kernel=" + kernel + ",initrd=" + initrd + ",kernel_args=" + testguest.Cmdline,
		"--serial", "unix,path=" + sock + ",mode=bind",
		"--features", "hyperv.reset.state=on",
		"--xml", "./features/hyperv/runtime/@state=on",
		"--xml", "./features/hyperv/vendor_id/@state=on",
		"--xml", "./features/hyperv/vendor_id/@value=KVM Hv",
		"--xml", "./features/hyperv/frequencies/@state=on",
		"--xml", "./features/hyperv/reenlightenment/@state=on",
		"--xml", "./features/hyperv/tlbflush/@state=on",
	}
	if out, rc := runTool(t, 3*time.Minute, nil, "virt-install", args...); rc != 0 {
		t.Fatalf("virt-install: rc=%d\n%s\ndaemon log:\n%s", rc, out, d.Log())
	}
	if st := domState(t, d, "win"); st != "running (booted)" {
		t.Fatalf("state %q after virt-install\n%s", st, d.Log())
	}
	live := guestXMLOf(t, d, "win")
	for _, want := range []string{
		"<relaxed state='on'/>", "<vapic state='on'/>", "<spinlocks state='on' retries='8191'/>",
		"<reset state='on'/>", "<runtime state='on'/>", "<vendor_id state='on' value='KVM Hv'/>",
		"<clock offset='localtime'>", "<timer name='rtc' tickpolicy='catchup'/>",
		"<timer name='pit' tickpolicy='delay'/>", "<timer name='hpet' present='no'/>",
		"<timer name='hypervclock' present='yes'/>", "<vmport state='off'/>",
		"<suspend-to-mem enabled='no'/>", "<graphics type='spice'", "<model type='e1000e'/>",
	} {
		if !strings.Contains(live, want) {
			t.Errorf("live XML lacks %q:\n%s", want, live)
		}
	}

	// The enlightenments are properties of QEMU's vCPU.
	cpu := firstCPUPath(t, uri, "win")
	for prop, want := range map[string]any{
		"hv-relaxed": true, "hv-vapic": true, "hv-spinlocks": float64(8191), "hv-time": true,
		"hv-reset": true, "hv-runtime": true, "hv-vendor-id": "KVM Hv", "hv-frequencies": true,
		"hv-reenlightenment": true, "hv-tlbflush": true, "hv-synic": false,
	} {
		if got := qomGet(t, uri, "win", cpu, prop); got != want {
			t.Errorf("vCPU %s = %v, want %v", prop, got, want)
		}
	}
	// The clock: RTC in local time with catch-up as drift fix, the PIT
	// (kvm-pit's policy; TCG's isa-pit has none), no HPET.
	argv := qemuArgv(t, d, "win")
	if !hasOption(argv, "-rtc", "base=localtime,driftfix=slew") {
		t.Errorf("no localtime RTC: %v", optionValues(argv, "-rtc"))
	}
	if !hasOption(argv, "-global", "kvm-pit.lost_tick_policy=delay") || !hasOption(argv, "-no-hpet", "") {
		t.Errorf("PIT/HPET timers not on the command line: %q", argv)
	}
	if qtree := hmp(t, uri, "win", "info qtree"); !strings.Contains(qtree, `lost_tick_policy = "slew"`) {
		t.Errorf("the RTC has no slew policy:\n%s", qtree)
	}
	if hpet := qomGet(t, uri, "win", "/machine", "hpet"); hpet != false {
		t.Errorf("machine hpet = %v", hpet)
	}
	// The guest boots and has no HPET to take time from.
	con := bootShell(t, d, sock)
	if cs := guestRun(t, con, "cat /sys/devices/system/clocksource/clocksource0/available_clocksource"); strings.Contains(cs, "hpet") || cs == "" {
		t.Errorf("guest clocksources %q (want no hpet)", cs)
	}
	if n := guestRun(t, con, "ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l"); n != "2" {
		t.Errorf("guest sees %s vCPUs, want 2", n)
	}

	inactive := filepath.Join(t.TempDir(), "win.xml")
	os.WriteFile(inactive, []byte(mustVirsh(t, uri, "dumpxml --inactive win")), 0o644)
	sameOptionsAsLibvirtd(t, d, inactive, "-machine", "-accel", "-cpu", "-rtc", "-global", "-no-hpet", "-smp")
	mustVirsh(t, uri, "destroy win")
	mustVirsh(t, uri, "undefine win")
}
