package integration

import (
	"strings"
	"testing"
)

// TestQEMUSetLifecycleAction drives virsh set-lifecycle-action on a
// running guest: live and persistent definitions take the new actions
// separately, QEMU takes the reboot action (set-action), and what the
// QEMU driver cannot honour is refused with libvirt's messages.
func TestQEMUSetLifecycleAction(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	defineGuest(t, d, "lca", "")
	mustVirsh(t, uri, "start lca")
	mustVirsh(t, uri, "set-lifecycle-action lca reboot destroy --live")
	if out := mustVirsh(t, uri, "dumpxml lca"); !strings.Contains(out, "<on_reboot>destroy</on_reboot>") {
		t.Errorf("live XML:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dumpxml --inactive lca"); !strings.Contains(out, "<on_reboot>restart</on_reboot>") {
		t.Errorf("a live change reached the persistent definition:\n%s", out)
	}
	mustVirsh(t, uri, "set-lifecycle-action lca crash coredump-restart --config")
	if out := mustVirsh(t, uri, "dumpxml --inactive lca"); !strings.Contains(out, "<on_crash>coredump-restart</on_crash>") {
		t.Errorf("persistent XML:\n%s", out)
	}
	for cmd, want := range map[string]string{
		"set-lifecycle-action lca poweroff preserve":         "error: unsupported configuration: qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'",
		"set-lifecycle-action lca poweroff coredump-destroy": "error: unsupported configuration: Lifecycle event 'poweroff' doesn't support 'coredump-destroy' action",
		"set-lifecycle-action lca crash rename-restart":      "error: unsupported configuration: qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'",
		// The live reboot action is destroy now.
		"set-lifecycle-action lca poweroff restart --live": "error: unsupported configuration: qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot'",
	} {
		if _, e, rc := virsh(t, uri, cmd); rc == 0 || !strings.Contains(e, want) {
			t.Errorf("%s: rc=%d %q, want %q", cmd, rc, e, want)
		}
	}
	// With reboot=destroy handed to QEMU, a guest reset shuts it down
	// instead of restarting it.
	mustVirsh(t, uri, `qemu-monitor-command lca '{"execute":"system_reset"}'`)
	waitState(t, d, "lca", "shut off (shutdown)", bootTimeout())
	mustVirsh(t, uri, "undefine lca")
}
