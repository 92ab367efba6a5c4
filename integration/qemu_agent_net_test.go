package integration

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUGuestAgentNAT boots the test guest with its agent on a NAT
// virtual network of govirtd (in a private network namespace) and checks
// what only a guest with a real network, a login and a disk serial can
// show: the address the guest got from the network's dnsmasq in
// `domifaddr --source agent` (and the same lease in --source lease) and
// in guestinfo's interfaces, a logged-in user in guestinfo's users, the
// disk's <serial> in guestinfo's disks and file systems, and the live
// <currentMemory> read from the balloon after the start (the whole
// memory while the CPUs have not run, then the target as the guest gives
// pages back), as libvirt's qemuProcessRefreshBalloonState.
func TestQEMUGuestAgentNAT(t *testing.T) {
	d, _ := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	mustVirsh(t, uri, "net-define "+writeTemp(t, "net.xml", natNetXML))
	mustVirsh(t, uri, "net-start gvnat")

	disk := rawImage(t, t.TempDir(), "gan.img", "16M")
	sock := filepath.Join(d.dir, "gan.console")
	xml := testGuestXML(t, "gan", "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%s'/>
      <target dev='vdb' bus='virtio'/>
      <serial>GVSERIAL1</serial>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:11:22:33'/>
      <source network='gvnat'/>
      <model type='virtio'/>
    </interface>
%s`, sock, disk, agentChannelXML))
	// (more memory than the other tests' guests: ballooned down to 100
	// MiB the guest, which runs from its initramfs, has too little left
	// and its OOM killer picks qemu-ga)
	xml = strings.Replace(xml, "<memory unit='MiB'>128</memory>", "<memory unit='MiB'>192</memory>\n  <currentMemory unit='MiB'>160</currentMemory>", 1)
	mustVirsh(t, uri, "define "+writeTemp(t, "gan.xml", xml))

	// Started paused: QEMU has the balloon target, but the guest has not
	// run, so the balloon is still the whole memory.
	mustVirsh(t, uri, "start gan --paused")
	if cur := liveCurrentMemory(t, uri, "gan"); cur != "<currentMemory unit='KiB'>196608" {
		t.Errorf("live currentMemory of a paused new guest: %s, want all 196608 KiB (query-balloon)", cur)
	}
	if out := mustVirsh(t, uri, "dumpxml gan --inactive"); !strings.Contains(out, "<currentMemory unit='KiB'>163840</currentMemory>") {
		t.Errorf("inactive currentMemory changed:\n%s", out)
	}
	mustVirsh(t, uri, "resume gan")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		out := con.Output()
		t.Fatalf("gan did not boot: %v\nconsole: %q", err, out[max(0, len(out)-3000):])
	}
	waitAgent(t, uri, "gan", "connected", 60*time.Second)

	// The guest takes its address from the network's dnsmasq (the static
	// host of its MAC).
	if r := guestRun(t, con, "gv-dhcp eth0"); r != "GV-DHCP eth0 192.168.150.10/24" {
		t.Fatalf("gv-dhcp: %q", r)
	}
	out := mustVirsh(t, uri, "domifaddr gan --source agent --full")
	if !regexp.MustCompile(`(?m)^\s*eth0\s+52:54:00:11:22:33\s+ipv4\s+192\.168\.150\.10/24\s*$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\s*lo\s+00:00:00:00:00:00\s+ipv4\s+127\.0\.0\.1/8\s*$`).MatchString(out) {
		t.Errorf("domifaddr --source agent:\n%s", out)
	}
	live := mustVirsh(t, uri, "dumpxml gan")
	tap := regexp.MustCompile(`<target dev='(vnet\d+)'/>`).FindStringSubmatch(live)
	if tap == nil {
		t.Fatalf("no tap in the live XML:\n%s", live)
	}
	out = mustVirsh(t, uri, "domifaddr gan --source lease")
	if !regexp.MustCompile(`(?m)^\s*` + tap[1] + `\s+52:54:00:11:22:33\s+ipv4\s+192\.168\.150\.10/24\s*$`).MatchString(out) {
		t.Errorf("domifaddr --source lease:\n%s", out)
	}
	info := mustVirsh(t, uri, "guestinfo gan --interface")
	m := regexp.MustCompile(`(?m)^if\.(\d+)\.name\s+: eth0$`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("guestinfo --interface has no eth0:\n%s", info)
	}
	for _, w := range []string{
		gi("if.count", "2"),
		gi("if."+m[1]+".hwaddr", "52:54:00:11:22:33"),
		gi("if."+m[1]+".addr.0.type", "ipv4"),
		gi("if."+m[1]+".addr.0.addr", "192.168.150.10"),
		gi("if."+m[1]+".addr.0.prefix", "24"),
	} {
		if !strings.Contains(info, w) {
			t.Errorf("guestinfo --interface lacks %q:\n%s", w, info)
		}
	}

	// A login (a utmp entry, as login(1) writes): guest-get-users.
	r := guestRun(t, con, "gv-login alice")
	lm := regexp.MustCompile(`^GV-LOGIN alice (\d+)$`).FindStringSubmatch(r)
	if lm == nil {
		t.Fatalf("gv-login: %q", r)
	}
	secs, _ := strconv.ParseInt(lm[1], 10, 64)
	info = mustVirsh(t, uri, "guestinfo gan --user")
	for _, w := range []string{
		gi("user.count", "1"),
		gi("user.0.name", "alice"),
		gi("user.0.login-time", strconv.FormatInt(secs*1000, 10)),
	} {
		if !strings.Contains(info, w) {
			t.Errorf("guestinfo --user lacks %q:\n%s", w, info)
		}
	}

	// The disk's <serial>, from the guest's udev data, in guestinfo's
	// disks and, once mounted, file systems.
	if r := guestRun(t, con, "gv-mount /dev/vda /mnt/data"); !strings.Contains(r, "GV-MOUNT /dev/vda /mnt/data ok") {
		t.Fatalf("gv-mount: %q", r)
	}
	info = mustVirsh(t, uri, "guestinfo gan --disk --filesystem")
	for _, w := range []string{
		gi("disk.0.name", "/dev/vda"),
		gi("disk.0.serial", "GVSERIAL1"),
		gi("disk.0.alias", "vdb"),
		gi("fs.0.disk.0.alias", "vdb"),
		gi("fs.0.disk.0.serial", "GVSERIAL1"),
		gi("fs.0.disk.0.device", "/dev/vda"),
	} {
		if !strings.Contains(info, w) {
			t.Errorf("guestinfo --disk --filesystem lacks %q:\n%s", w, info)
		}
	}

	// The running guest gave back what the balloon asked (BALLOON_CHANGE).
	waitFor(t, 2*time.Minute, func() string {
		if cur := liveCurrentMemory(t, uri, "gan"); cur != "<currentMemory unit='KiB'>163840" {
			return "live currentMemory after boot: " + cur
		}
		return ""
	})
	// A restarted daemon reads the balloon again.
	d.crashRestart()
	waitAgent(t, uri, "gan", "connected", 30*time.Second)
	if cur := liveCurrentMemory(t, uri, "gan"); cur != "<currentMemory unit='KiB'>163840" {
		t.Errorf("live currentMemory after a daemon restart: %s", cur)
	}
	if out := mustVirsh(t, uri, "domifaddr gan --source agent"); !strings.Contains(out, "192.168.150.10/24") {
		t.Errorf("domifaddr --source agent after a daemon restart:\n%s", out)
	}
	mustVirsh(t, uri, "destroy gan")
}

// gi is one line of virsh guestinfo: the key padded to 20 columns, and a
// line end so that a value is not taken for a prefix of a longer one.
func gi(key, value string) string {
	return fmt.Sprintf("%-20s: %s\n", key, value)
}
