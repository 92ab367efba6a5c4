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

// TestQEMUAgentWriteSameAsLibvirtd boots the test guest (two vCPUs, its
// qemu-ga on the agent channel) once on govirtd and once, under the same
// name, on the libvirtd 9.0 running on this host, and makes the agent
// calls that change the guest through virsh on both, one after the other
// in the same order: set-user-password, domtime --time and --sync,
// domfsfreeze/domfsthaw, domfstrim, guestvcpus --disable/--enable (and
// the refusal to offline vCPU 0), domhostname --source agent. stdout,
// stderr and the exit code must agree: the two guests run the same
// agent, so whatever the agent answers (or refuses) both daemons must
// turn into the same virsh output. Skipped when libvirtd is not
// reachable; the guest made there is removed.
func TestQEMUAgentWriteSameAsLibvirtd(t *testing.T) {
	_, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvagw-cmp-%d", os.Getpid())
	uris := []string{uri, libvirtdURI}
	cons := make([]*testguest.Console, 2)
	for i, u := range uris {
		sock := filepath.Join(dir, fmt.Sprintf("console%d", i))
		xml := testGuestXML(t, name, "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
%s`, sock, agentChannelXML))
		xml = regexp.MustCompile(`<vcpu>1</vcpu>`).ReplaceAllString(xml, "<vcpu placement='static'>2</vcpu>")
		if i == 1 {
			t.Cleanup(func() {
				virsh(t, libvirtdURI, "destroy", name)
				virsh(t, libvirtdURI, "undefine", name)
			})
		}
		mustVirsh(t, u, "define "+writeTemp(t, fmt.Sprintf("gvagw%d.xml", i), xml))
		mustVirsh(t, u, "start "+name)
		cons[i] = console(t, sock)
	}
	// Both boot at once.
	for i, u := range uris {
		if _, err := cons[i].Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
			out := cons[i].Output()
			t.Fatalf("%s did not boot on %s: %v\nconsole: %q", name, u, err, out[max(0, len(out)-3000):])
		}
		waitAgent(t, u, name, "connected", 60*time.Second)
		// Programs run in a TCG guest on a busy machine: more than the
		// default 5 s may be needed.
		mustVirsh(t, u, "guest-agent-timeout "+name+" --timeout 30")
		// The agent answers (a busy guest may miss the first sync).
		waitFor(t, time.Minute, func() string {
			if _, e, rc := virsh(t, u, "domhostname", name, "--source", "agent"); rc != 0 {
				return "domhostname: " + e
			}
			return ""
		})
	}
	for _, c := range []string{
		"set-user-password %s root secret",
		"set-user-password %s root $6$gv$abc --encrypted",
		"set-user-password %s nosuchuser secret",
		"domtime %s --time 1700000000",
		"domtime %s --sync",
		"domfsfreeze %s",
		"domfsthaw %s",
		"domfsthaw %s",
		"domfstrim %s",
		"domfstrim %s --minimum 4096",
		"guestvcpus %s",
		"guestvcpus %s --cpulist 1 --disable",
		"guestvcpus %s",
		"guestvcpus %s --cpulist 1 --enable",
		"guestvcpus %s",
		"guestvcpus %s --cpulist 0 --disable",
		"guestvcpus %s --cpulist 5 --enable",
		"domhostname %s --source agent",
	} {
		args := strings.Fields(fmt.Sprintf(c, name))
		o1, e1, r1 := virsh(t, uri, args...)
		o2, e2, r2 := virsh(t, libvirtdURI, args...)
		if o1 != o2 || e1 != e2 || r1 != r2 {
			t.Errorf("virsh %q:\n--- govirtd (rc %d)\n%s%s--- libvirtd (rc %d)\n%s%s", args, r1, o1, e1, r2, o2, e2)
		} else {
			t.Logf("virsh %s: rc %d %q %q", strings.Join(args, " "), r1, o1, e1)
		}
	}
	for _, u := range uris {
		mustVirsh(t, u, "destroy "+name)
		mustVirsh(t, u, "undefine "+name)
	}
}
