package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A disk hotplugged into a running guest is part of its managed save: the
// guest comes back from it with the disk (QEMU refuses a migration stream
// whose devices the new command line lacks).
func TestQEMUManagedSaveKeepsHotplug(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	faultDiskGuest(t, d, dir, "hs")
	spare := filepath.Join(dir, "hs-spare.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", spare, "8M")
	mustVirsh(t, uri, "start hs")
	waitState(t, d, "hs", "running (booted)", 30*time.Second)
	mustVirsh(t, uri, "attach-disk hs "+spare+" vdb --subdriver qcow2 --live")
	snap := filepath.Join(dir, "hs-s1.qcow2")
	mustVirsh(t, uri, "snapshot-create-as hs s1 --disk-only --atomic --diskspec vda,file="+snap)
	if out := mustVirsh(t, uri, "dumpxml hs"); !strings.Contains(out, "hs-spare.qcow2") {
		t.Fatalf("live XML lost the hotplugged disk after a snapshot:\n%s", out)
	}
	mustVirsh(t, uri, "managedsave hs")
	mustVirsh(t, uri, "start hs")
	waitState(t, d, "hs", "running (restored)", 30*time.Second)
	if out := mustVirsh(t, uri, "domblklist hs"); !strings.Contains(out, "vdb") {
		t.Fatalf("restored guest lacks vdb:\n%s", out)
	}
	mustVirsh(t, uri, "destroy hs")
}
