package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQEMUAgentChannelSaveRestore: an agent channel given no path gets a
// socket in the run's channel directory, which is named after the guest's
// id. A save image must not carry that path (libvirt drops it from
// migratable definitions), so the restored guest, with a new id, binds its
// own socket; save-image-dumpxml shows the channel without a path.
func TestQEMUAgentChannelSaveRestore(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuestDevices(t, d, "gach", agentChannelXML)
	mustVirsh(t, uri, "start gach --paused")
	live := mustVirsh(t, uri, "dumpxml gach")
	if !strings.Contains(live, "/channel/target/domain-") {
		t.Fatalf("agent channel not in the run's channel directory:\n%s", live)
	}
	img := filepath.Join(t.TempDir(), "gach.save")
	mustVirsh(t, uri, "save gach "+img)
	if x := mustVirsh(t, uri, "save-image-dumpxml "+img); strings.Contains(x, "/channel/target/") {
		t.Fatalf("save image carries the run's channel path:\n%s", x)
	}
	mustVirsh(t, uri, "restore "+img+" --paused")
	restored := mustVirsh(t, uri, "dumpxml gach")
	if !strings.Contains(restored, "/channel/target/domain-") || !strings.Contains(restored, "state='disconnected'") {
		t.Fatalf("restored guest's agent channel:\n%s", restored)
	}
	mustVirsh(t, uri, "destroy gach")
}
