package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUGuestAgentHotplug attaches the guest agent channel to a running
// guest that had none (libvirt's qemuDomainAttachChrDevice): the live XML
// gets the channel with its socket in the run's channel directory, the
// next channel alias and the first free virtio-serial port; once qemu-ga
// runs on the new port in the guest, the channel is connected, the
// AGENT_LIFECYCLE event says so and agent calls answer (before, the
// target has no state, as libvirtd shows it). A second agent
// channel is refused as libvirt refuses it.
func TestQEMUGuestAgentHotplug(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	sock := defineGuestDevices(t, d, "gah", "<controller type='virtio-serial' index='0'/>\n")
	ev := watchAgentEvents(t, uri, "agent-lifecycle")
	mustVirsh(t, uri, "start gah")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		out := con.Output()
		t.Fatalf("gah did not boot: %v\nconsole: %q", err, out[max(0, len(out)-3000):])
	}
	virshFails(t, uri, "domtime gah", "argument unsupported: QEMU guest agent is not configured")

	xmlPath := writeTemp(t, "agent.xml", agentChannelXML)
	n := ev.mark()
	mustVirsh(t, uri, "attach-device gah "+xmlPath+" --live")
	live := mustVirsh(t, uri, "dumpxml gah")
	id := strings.TrimSpace(mustVirsh(t, uri, "domid gah"))
	want := filepath.Join(d.dir, "run", "qemu", "channel", "target", "domain-"+id+"-gah", "org.qemu.guest_agent.0")
	re := regexp.MustCompile(`<channel type='unix'>\s*<source mode='bind' path='` + regexp.QuoteMeta(want) + `'/>\s*` +
		`<target type='virtio' name='org.qemu.guest_agent.0'/>\s*` +
		`<alias name='channel0'/>\s*<address type='virtio-serial' controller='0' bus='0' port='1'/>\s*</channel>`)
	if !re.MatchString(live) {
		t.Fatalf("live XML after attaching the agent channel:\n%s", live)
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("agent socket %s: %v", want, err)
	}
	if out := mustVirsh(t, uri, "dumpxml gah --inactive"); strings.Contains(out, "org.qemu.guest_agent.0") {
		t.Errorf("a --live attach changed the persistent definition:\n%s", out)
	}
	// Not connected until qemu-ga opens the new port.
	virshFails(t, uri, "domtime gah", "Guest agent is not responding: QEMU guest agent is not connected")
	if r := guestRun(t, con, "gv-agent start"); !strings.Contains(r, "GV-AGENT started") || strings.Contains(r, "started 0") {
		t.Fatalf("gv-agent start on the hot-plugged port: %q", r)
	}
	waitAgent(t, uri, "gah", "connected", 60*time.Second)
	ev.wait(t, n, "event 'agent-lifecycle' for domain 'gah': state: 'connected' reason: 'channel event'", 10*time.Second)
	if out := strings.TrimSpace(mustVirsh(t, uri, "domhostname gah --source agent")); out != "govirt-guest" {
		t.Errorf("domhostname through the hot-plugged agent: %q", out)
	}
	virshFails(t, uri, "attach-device gah "+xmlPath+" --live", "Requested operation is not valid: chardev already exists")

	// A restarted daemon finds the hot-plugged channel in the status
	// and connects to the agent again.
	d.crashRestart()
	waitAgent(t, uri, "gah", "connected", 30*time.Second)
	if out := strings.TrimSpace(mustVirsh(t, uri, "domhostname gah --source agent")); out != "govirt-guest" {
		t.Errorf("domhostname after a daemon restart: %q", out)
	}

	// Detach (qemuDomainDetachDeviceChr): a channel that does not
	// match is refused as libvirt refuses it; the agent's channel goes
	// with DEVICE_REMOVED, its chardev and the socket the daemon bound,
	// and the agent is then not configured.
	other := writeTemp(t, "other.xml", "<channel type='unix'><source mode='bind' path='"+want+"'/><target type='virtio' name='org.example.0'/></channel>")
	virshFails(t, uri, "detach-device gah "+other+" --live", "device not found: chr type 'channel' device not present in domain configuration")
	virshFails(t, uri, "detach-device gah "+other+" --config", "invalid argument: device not present in domain configuration")
	rm := watchAgentEvents(t, uri, "device-removed")
	detach := writeTemp(t, "detach.xml", "<channel type='unix'><source mode='bind' path='"+want+"'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>")
	mustVirsh(t, uri, "detach-device gah "+detach+" --live")
	rm.wait(t, 0, "event 'device-removed' for domain 'gah': channel0", 10*time.Second)
	if out := mustVirsh(t, uri, "dumpxml gah"); strings.Contains(out, "<channel") {
		t.Errorf("live XML after detaching the agent channel:\n%s", out)
	}
	if _, err := os.Stat(want); !os.IsNotExist(err) {
		t.Errorf("agent socket %s after the detach: %v", want, err)
	}
	virshFails(t, uri, "domtime gah", "argument unsupported: QEMU guest agent is not configured")
	// libvirt's live detach looks for the console's pty source too.
	con0 := writeTemp(t, "con.xml", "<console type='pty'><target type='serial' port='0'/></console>")
	virshFails(t, uri, "detach-device gah "+con0+" --live", "device not found: chr type 'console' device not present in domain configuration")
	// The port is free again: the channel attaches anew.
	mustVirsh(t, uri, "attach-device gah "+xmlPath+" --live")
	if out := mustVirsh(t, uri, "dumpxml gah"); !strings.Contains(out, "<alias name='channel0'/>") {
		t.Errorf("live XML after attaching the agent channel again:\n%s", out)
	}
	mustVirsh(t, uri, "destroy gah")
}
