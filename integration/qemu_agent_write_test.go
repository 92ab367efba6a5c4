package integration

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUGuestAgentWrite boots the test guest (two vCPUs) with its
// agent and checks the agent calls that change the guest against what
// the guest then shows: a frozen file system holds a write until thaw,
// set-user-password writes /etc/shadow, domtime --time sets the clock
// `date` shows, guestvcpus offlines a vCPU, and shutdown/reboot
// --mode agent really power off and reboot the guest.
func TestQEMUGuestAgentWrite(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	disk := rawImage(t, t.TempDir(), "gw.img", "16M")
	sock := defineGuestDevices(t, d, "gw", `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='`+disk+`'/>
  <target dev='vdb' bus='virtio'/>
</disk>
`+agentChannelXML)
	xml := mustVirsh(t, uri, "dumpxml gw --inactive")
	xml = strings.Replace(xml, testguest.Cmdline, testguest.Cmdline+" no_timer_check", 1)
	xml = regexp.MustCompile(`<vcpu[^>]*>1</vcpu>`).ReplaceAllString(xml, "<vcpu placement='static'>2</vcpu>")
	mustVirsh(t, uri, "define "+writeTemp(t, "gw.xml", xml))
	mustVirsh(t, uri, "start gw")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		out := con.Output()
		t.Fatalf("gw did not boot: %v\nconsole: %q", err, out[max(0, len(out)-3000):])
	}
	waitAgent(t, uri, "gw", "connected", 60*time.Second)

	// domfsfreeze / domfsthaw: a write to the frozen file system waits.
	if r := guestRun(t, con, "gv-mount /dev/vda /mnt/data"); !strings.Contains(r, "GV-MOUNT /dev/vda /mnt/data ok") {
		t.Fatalf("gv-mount: %q", r)
	}
	out := mustVirsh(t, uri, "domfsfreeze gw --mountpoint /mnt/data")
	if !strings.Contains(out, "Froze 1 filesystem(s)") {
		t.Errorf("domfsfreeze: %q", out)
	}
	// While frozen the agent refuses most commands.
	virshFails(t, uri, "domtime gw", "guest-get-time")
	// Normal reads do not wait for the agent.
	mustVirsh(t, uri, "dominfo gw")
	con.Send(`(echo data > /mnt/data/f && echo "GV-""WROTE done") &`)
	if _, err := con.Expect("GV-WROTE done", 3*time.Second); err == nil {
		t.Fatal("write to a frozen file system finished before domfsthaw")
	}
	out = mustVirsh(t, uri, "domfsthaw gw")
	if !strings.Contains(out, "Thawed 1 filesystem(s)") {
		t.Errorf("domfsthaw: %q", out)
	}
	if _, err := con.Expect("GV-WROTE done", 30*time.Second); err != nil {
		t.Fatalf("write after domfsthaw: %v", err)
	}
	virshFails(t, uri, "domfsthaw gw --mountpoint /mnt/data", "argument unsupported: specifying mountpoints is not supported")
	out = mustVirsh(t, uri, "domfsfreeze gw")
	if !strings.Contains(out, "Froze 1 filesystem(s)") {
		t.Errorf("domfsfreeze (all): %q", out)
	}
	mustVirsh(t, uri, "domfsthaw gw")
	virshFails(t, uri, "domfstrim gw --mountpoint /mnt/data", "argument unsupported: Specifying mount point is not supported for now")
	mustVirsh(t, uri, "domfstrim gw --minimum 4096")

	// snapshot-create-as --quiesce: frozen around the external disk
	// snapshot, thawed after it (a write then goes through) and after a
	// failed one; without an agent it is libvirt's error.
	dir := t.TempDir()
	mustVirsh(t, uri, "snapshot-create-as gw q1 --disk-only --quiesce --diskspec vdb,file="+dir+"/q1.qcow2")
	if r := guestRun(t, con, "echo after > /mnt/data/g && sync && cat /mnt/data/g"); r != "after" {
		t.Errorf("write after a quiesced snapshot: %q", r)
	}
	// (the overlay is created after the freeze, so this fails frozen)
	if _, e, rc := virsh(t, uri, "snapshot-create-as gw q2 --disk-only --quiesce --diskspec vdb,file=/nonexistent/dir/q2.qcow2"); rc == 0 {
		t.Error("snapshot into a missing directory worked")
	} else {
		t.Logf("snapshot into a missing directory: %s", strings.TrimSpace(e))
	}
	if r := guestRun(t, con, "echo again > /mnt/data/h && sync && cat /mnt/data/h"); r != "again" {
		t.Errorf("write after a failed quiesced snapshot: %q", r)
	}
	if r := guestRun(t, con, "gv-agent stop"); !strings.Contains(r, "GV-AGENT stopped") {
		t.Fatalf("gv-agent stop: %q", r)
	}
	waitAgent(t, uri, "gw", "disconnected", 30*time.Second)
	virshFails(t, uri, "snapshot-create-as gw q3 --disk-only --quiesce --diskspec vdb,file="+dir+"/q3.qcow2",
		"error: Guest agent is not responding: QEMU guest agent is not connected")
	if out := mustVirsh(t, uri, "snapshot-list gw --name"); strings.Contains(out, "q3") || !strings.Contains(out, "q1") {
		t.Errorf("snapshots: %q", out)
	}
	guestRun(t, con, "gv-agent start")
	waitAgent(t, uri, "gw", "connected", 30*time.Second)

	// set-user-password: qemu-ga runs chpasswd (the test guest's writes
	// /etc/shadow, as the real one does; testguest/build.sh).
	if sh := guestRun(t, con, "cat /etc/shadow"); sh != "root:!:19000:0:99999:7:::" {
		t.Errorf("/etc/shadow before set-user-password: %q", sh)
	}
	mustVirsh(t, uri, "set-user-password gw root s3cret")
	if sh := guestRun(t, con, "cat /etc/shadow"); !regexp.MustCompile(`root:\$1\$`).MatchString(sh) {
		t.Errorf("/etc/shadow after set-user-password: %q", sh)
	}
	mustVirsh(t, uri, "set-user-password gw root '$1$abc$0123456789abcdefghijk.' --encrypted")
	if sh := guestRun(t, con, "cat /etc/shadow"); !strings.Contains(sh, "root:$1$abc$0123456789abcdefghijk.:") {
		t.Errorf("/etc/shadow after set-user-password --encrypted: %q", sh)
	}
	virshFails(t, uri, "set-user-password gw nosuchuser pw", "internal error: unable to execute QEMU agent command 'guest-set-user-password'")

	// domtime --time: the guest's clock moves; --now puts it back.
	target := time.Now().Unix() + 10*86400
	mustVirsh(t, uri, "domtime gw --time "+strconv.FormatInt(target, 10))
	g, _ := strconv.ParseInt(guestRun(t, con, "date +%s"), 10, 64)
	if g < target || g > target+60 {
		t.Errorf("guest date %d after domtime --time %d", g, target)
	}
	mustVirsh(t, uri, "domtime gw --now")
	g, _ = strconv.ParseInt(guestRun(t, con, "date +%s"), 10, 64)
	if now := time.Now().Unix(); g < now-60 || g > now+60 {
		t.Errorf("guest date %d after domtime --now, host %d", g, now)
	}

	// guestvcpus: vCPU 1 goes offline and online again; vCPU 0 cannot.
	mustVirsh(t, uri, "guestvcpus gw --cpulist 1 --disable")
	if r := guestRun(t, con, "cat /sys/devices/system/cpu/online"); r != "0" {
		t.Errorf("guest online cpus after --disable: %q", r)
	}
	if out := mustVirsh(t, uri, "guestvcpus gw"); !strings.Contains(out, "online         : 0\n") {
		t.Errorf("guestvcpus after --disable:\n%s", out)
	}
	mustVirsh(t, uri, "guestvcpus gw --cpulist 1 --enable")
	if r := guestRun(t, con, "cat /sys/devices/system/cpu/online"); r != "0-1" {
		t.Errorf("guest online cpus after --enable: %q", r)
	}
	virshFails(t, uri, "guestvcpus gw --cpulist 0 --disable", "Operation not supported: vCPU '0' is not offlinable")
	virshFails(t, uri, "guestvcpus gw --cpulist 5 --enable", "invalid argument: guest is missing vCPUs '5'")

	// Agent jobs: a write call on a hung agent fails after the timeout
	// and holds up no normal call meanwhile.
	mustVirsh(t, uri, "guest-agent-timeout gw --timeout 2")
	if r := guestRun(t, con, "gv-agent pause"); !strings.Contains(r, "GV-AGENT paused") {
		t.Fatalf("gv-agent pause: %q", r)
	}
	done := make(chan string, 1)
	go func() {
		_, e, _ := virsh(t, uri, "set-user-password gw root x")
		done <- e
	}()
	time.Sleep(300 * time.Millisecond)
	for _, cmd := range []string{"dominfo gw", "domstate gw", "dumpxml gw"} {
		c0 := time.Now()
		mustVirsh(t, uri, cmd)
		if el := time.Since(c0); el > 1500*time.Millisecond {
			t.Errorf("%s took %v while an agent call hung", cmd, el)
		}
	}
	select {
	case e := <-done:
		if !strings.Contains(e, "Guest agent is not responding: Guest agent not available for now") {
			t.Errorf("set-user-password on a hung agent: %q", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("set-user-password on a hung agent never returned")
	}
	guestRun(t, con, "gv-agent cont")
	mustVirsh(t, uri, "guest-agent-timeout gw")
	mustVirsh(t, uri, "domtime gw")

	// Without /sbin/shutdown (removed here; the guest has one, see
	// testguest/build.sh) qemu-ga fails: --mode agent is that error; no
	// flags falls back to ACPI, which reboots (and brings it back).
	guestRun(t, con, "rm /sbin/shutdown")
	virshFails(t, uri, "reboot gw --mode agent", "unable to execute QEMU agent command 'guest-shutdown'")
	mustVirsh(t, uri, "reboot gw")
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		t.Fatalf("no reboot after reboot (agent failing, then ACPI): %v", err)
	}
	waitAgent(t, uri, "gw", "connected", 60*time.Second)

	// shutdown/reboot --mode agent: qemu-ga runs /sbin/shutdown (the
	// test guest's powers off or reboots at once).
	t0 := time.Now()
	mustVirsh(t, uri, "reboot gw --mode agent")
	t.Logf("reboot --mode agent took %v", time.Since(t0))
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		out := con.Output()
		st, _, _ := virsh(t, uri, "domstate gw --reason")
		t.Fatalf("no reboot after reboot --mode agent: %v (%s)\n%q", err, st, out[max(0, len(out)-1500):])
	}
	if st := strings.TrimSpace(mustVirsh(t, uri, "domstate gw")); st != "running" {
		t.Errorf("state after agent reboot: %q", st)
	}
	waitAgent(t, uri, "gw", "connected", 60*time.Second)
	t0 = time.Now()
	mustVirsh(t, uri, "shutdown gw --mode agent")
	t.Logf("shutdown --mode agent took %v", time.Since(t0))
	waitState(t, d, "gw", "shut off (shutdown)", 60*time.Second)
	virshFails(t, uri, "shutdown gw --mode agent", "Requested operation is not valid: domain is not running")
}
