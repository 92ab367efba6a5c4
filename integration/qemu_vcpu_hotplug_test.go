package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUVcpuHotplug: a guest defined with <vcpu current='1'>4</vcpu>
// gets vCPUs with setvcpus --live (device_add of QEMU's vCPU objects) and
// gives them back (device_del, the guest ejecting them over ACPI); virsh
// vcpucount and the guest's /sys/devices/system/cpu agree.
func TestQEMUVcpuHotplug(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	sock := filepath.Join(d.dir, "hp.console")
	xml := strings.Replace(guestXML(t, "hp", sock, ""), "<vcpu>1</vcpu>", "<vcpu placement='static' current='1'>4</vcpu>", 1)
	path := filepath.Join(t.TempDir(), "hp.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start hp")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, d.Log())
	}
	cpuRe := regexp.MustCompile(`CPUS=(\d+)`)
	guestCPUs := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var got string
		for time.Now().Before(deadline) {
			con.Send("echo CPUS=$(ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l)")
			m, err := con.ExpectRegexp(cpuRe, 10*time.Second)
			if err != nil {
				t.Fatalf("guest console: %v", err)
			}
			if got = m[1]; got == want {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Errorf("guest sees %s vCPUs, want %s", got, want)
	}
	liveCount := func(want int) {
		t.Helper()
		out := mustVirsh(t, uri, "vcpucount hp --live --active")
		if strings.TrimSpace(out) != fmt.Sprint(want) {
			t.Errorf("vcpucount --live --active: %q, want %d", out, want)
		}
	}
	guestCPUs("1")
	liveCount(1)

	mustVirsh(t, uri, "setvcpus hp 3 --live")
	liveCount(3)
	guestCPUs("3")
	if out := mustVirsh(t, uri, "vcpucount hp --config --active"); strings.TrimSpace(out) != "1" {
		t.Errorf("the definition changed with --live only: %q", out)
	}

	mustVirsh(t, uri, "setvcpus hp 4 --live")
	liveCount(4)
	guestCPUs("4")

	// more than the maximum is refused
	_, errOut, rc := virsh(t, uri, "setvcpus hp 5 --live")
	if rc == 0 || !strings.Contains(errOut, "requested vcpus is greater than max allowable vcpus for the live domain: 5 > 4") {
		t.Errorf("setvcpus 5: rc %d %s", rc, errOut)
	}

	// Unplug one at a time: under TCG the guest may need longer than
	// libvirt's 5 s to eject a vCPU, and then setvcpus fails with
	// libvirt's timeout error while QEMU's late DEVICE_DELETED still
	// completes the removal.
	unplug := func(n int) {
		t.Helper()
		_, errOut, rc := virsh(t, uri, fmt.Sprintf("setvcpus hp %d --live", n))
		if rc != 0 && !strings.Contains(errOut, "vcpu unplug request timed out") {
			t.Fatalf("setvcpus %d: %s", n, errOut)
		}
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			out, _, _ := virsh(t, uri, "vcpucount hp --live --active")
			if strings.TrimSpace(out) == fmt.Sprint(n) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		liveCount(n)
		guestCPUs(fmt.Sprint(n))
	}
	unplug(3)
	unplug(2)
	unplug(1)
	// the vCPU of -smp cannot go
	if _, _, rc := virsh(t, uri, "setvcpus hp 0 --live"); rc == 0 {
		t.Errorf("setvcpus 0 accepted")
	}
	liveCount(1)
}
