package integration

import (
	"os"
	"strings"
	"testing"

	"govirt/testguest"
)

// TestQEMUEverydayDomainCalls: inject-nmi, send-key (codesets translated
// to QEMU's numbers with libvirt's tables), domcontrol, domblkerror and the
// agent calls (domtime, set-user-password), which answer as libvirt 9.0
// does for a guest whose agent is not connected (channel configured) or
// not configured (no channel).
func TestQEMUEverydayDomainCalls(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	disk := rawImage(t, dir, "dc.img", "8M")
	defineGuestDevices(t, d, "dc", `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='`+disk+`'/>
  <target dev='vda' bus='virtio'/>
</disk>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
`)
	// The test guest runs qemu-ga on an agent channel; gv.noagent keeps
	// this one's channel unconnected.
	xml := strings.Replace(mustVirsh(t, uri, "dumpxml dc --inactive"), testguest.Cmdline, testguest.Cmdline+" gv.noagent", 1)
	mustVirsh(t, uri, "define "+writeTemp(t, "dc.xml", xml))
	defineGuestDevices(t, d, "dc2", "")

	expectErr := func(cmd, want string) {
		t.Helper()
		out, errOut, rc := virsh(t, uri, strings.Fields(cmd)...)
		if rc == 0 || !strings.Contains(errOut, want) {
			t.Errorf("virsh %s: rc=%d\n%s%s\nwant error %q", cmd, rc, out, errOut, want)
		}
	}
	expectErr("domcontrol dc", "Requested operation is not valid: domain is not running")
	expectErr("domtime dc", "Requested operation is not valid: domain is not running")
	expectErr("inject-nmi dc", "Requested operation is not valid: domain is not running")
	expectErr("send-key dc KEY_A", "Requested operation is not valid: domain is not running")

	mustVirsh(t, uri, "start dc")
	mustVirsh(t, uri, "start dc2")
	if out := mustVirsh(t, uri, "domcontrol dc"); strings.TrimSpace(out) != "ok" {
		t.Errorf("domcontrol: %q", out)
	}
	mustVirsh(t, uri, "inject-nmi dc")
	mustVirsh(t, uri, "send-key dc KEY_A")
	mustVirsh(t, uri, "send-key dc --holdtime 50 KEY_LEFTCTRL KEY_C")
	mustVirsh(t, uri, "send-key dc --codeset usb 4")
	mustVirsh(t, uri, "send-key dc --codeset rfb 0x1e")
	expectErr("send-key dc --codeset usb 0xffff", "cannot translate keycode 65535 of usb codeset to qnum keycode")
	if out := mustVirsh(t, uri, "domblkerror dc"); strings.TrimSpace(out) != "No errors found" {
		t.Errorf("domblkerror: %q", out)
	}
	expectErr("domtime dc", "error: Guest agent is not responding: QEMU guest agent is not connected")
	expectErr("domtime dc --now", "error: Guest agent is not responding: QEMU guest agent is not connected")
	expectErr("domtime dc --sync", "error: Guest agent is not responding: QEMU guest agent is not connected")
	expectErr("set-user-password dc root secret", "error: Guest agent is not responding: QEMU guest agent is not connected")
	expectErr("domtime dc2", "error: argument unsupported: QEMU guest agent is not configured")
	expectErr("domhostname dc", "error: Guest agent is not responding: QEMU guest agent is not connected")
	expectErr("domhostname dc2 --source agent", "error: argument unsupported: QEMU guest agent is not configured")
	// No NIC on a virtual network, so no lease names the guest.
	expectErr("domhostname dc --source lease", "error: no hostname found: no hostname found for domain dc")
	mustVirsh(t, uri, "suspend dc")
	expectErr("domtime dc", "Requested operation is not valid: domain is not running")
}
