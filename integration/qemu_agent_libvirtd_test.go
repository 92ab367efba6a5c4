package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// agentCmds are the agent calls, read and write, as virsh makes them;
// %s is the guest's name.
var agentCmds = []string{
	"domtime %s",
	"domtime %s --pretty",
	"domtime %s --now",
	"domtime %s --sync",
	"domtime %s --time 1700000000",
	"domhostname %s --source agent",
	"domifaddr %s --source agent",
	"guestinfo %s",
	"guestinfo %s --os",
	"guestinfo %s --hostname --disk",
	"domfsinfo %s",
	"domfsfreeze %s",
	"domfsfreeze %s --mountpoint /mnt",
	"domfsthaw %s",
	"domfstrim %s",
	"set-user-password %s root secret",
	"set-user-password %s root secret --encrypted",
	"guestvcpus %s",
	"guestvcpus %s --cpulist 1 --disable",
	"shutdown %s --mode agent",
	"reboot %s --mode agent",
	`qemu-agent-command %s {"execute":"guest-ping"}`,
}

// TestQEMUAgentErrorsSameAsLibvirtd defines the same guests on govirtd
// and on the libvirtd 9.0 running on this host and makes every agent
// call, read and write, through virsh on both where no agent can answer:
// a guest without the agent channel, a guest with the channel whose
// guest never runs (started paused: the agent is not connected), and
// both shut off. stdout, stderr and the exit code must agree (libvirt's
// "not configured", "not connected", "domain is not running" and the
// rtc-reset-reinjection check of domtime's set calls, which comes first),
// and the refusals of hot-plugging the agent channel.
// Skipped when libvirtd is not reachable; every guest made there is
// removed.
func TestQEMUAgentErrorsSameAsLibvirtd(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if !libvirtdUp() {
		t.Skip("libvirtd not reachable on /var/run/libvirt/libvirt-sock")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	suffix := fmt.Sprint(os.Getpid())
	withAgent, noAgent := "gvagent-cmp-"+suffix, "gvnoagent-cmp-"+suffix
	for _, g := range []struct{ name, devices string }{{withAgent, agentChannelXML}, {noAgent, ""}} {
		path := writeTemp(t, g.name+".xml", testGuestXML(t, g.name, "", g.devices))
		for _, u := range []string{uri, libvirtdURI} {
			mustVirsh(t, u, "define "+path)
		}
		name := g.name
		t.Cleanup(func() {
			virsh(t, libvirtdURI, "destroy", name)
			virsh(t, libvirtdURI, "undefine", name)
		})
	}
	same := func(state string, args ...string) {
		t.Helper()
		o1, e1, r1 := virsh(t, uri, args...)
		o2, e2, r2 := virsh(t, libvirtdURI, args...)
		if o1 != o2 || e1 != e2 || r1 != r2 {
			t.Errorf("%s: virsh %q:\n--- govirtd (rc %d)\n%s%s--- libvirtd (rc %d)\n%s%s", state, args, r1, o1, e1, r2, o2, e2)
		}
	}
	run := func(state string) {
		for _, g := range []string{withAgent, noAgent} {
			for _, c := range agentCmds {
				args := strings.SplitN(fmt.Sprintf(c, g), " ", -1)
				if strings.HasPrefix(c, "qemu-agent-command") {
					args = []string{"qemu-agent-command", g, `{"execute":"guest-ping"}`}
				}
				same(state, args...)
			}
		}
	}
	run("shut off")
	for _, g := range []string{withAgent, noAgent} {
		for _, u := range []string{uri, libvirtdURI} {
			mustVirsh(t, u, "start "+g+" --paused")
		}
	}
	run("paused, agent not connected")
	same("paused", "guest-agent-timeout", withAgent, "--timeout", "7")
	same("paused", "guest-agent-timeout", withAgent, "--timeout", "-3")
	// Hot-plugging the agent channel: into a guest without a
	// virtio-serial controller, and a second one.
	chPath := writeTemp(t, "agent-channel.xml", agentChannelXML)
	same("paused", "attach-device", noAgent, chPath, "--live")
	same("paused", "attach-device", withAgent, chPath, "--live")
	for _, g := range []string{withAgent, noAgent} {
		for _, u := range []string{uri, libvirtdURI} {
			mustVirsh(t, u, "destroy "+g)
			mustVirsh(t, u, "undefine "+g)
		}
	}
}
