package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUSnapshotShutOff takes disk-only snapshots of a shut-off guest:
// qemu-img makes qcow2 overlays on top of the persistent definition's
// image (a raw one here), the guest boots from them and sees what it
// wrote before; deleting them (qemu-img commit) merges every layer back
// into the base, which the definition uses again.
func TestQEMUSnapshotShutOff(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	qemuImg(t, "create", "-q", "-f", "raw", base, "64M")
	sock := defineDiskGuest(t, d, "off1", base, "raw")
	con := bootDiskGuest(t, d, "off1", sock)
	guestWrite(t, con, "/dev/vda", 1, 1024)
	mustVirsh(t, uri, "destroy off1")

	if out := mustVirsh(t, uri, "snapshot-create-as off1 s1 --disk-only"); !strings.Contains(out, "Domain snapshot s1 created") {
		t.Errorf("snapshot-create-as: %s", out)
	}
	ov1 := filepath.Join(dir, "base.s1")
	if got := backingOf(t, ov1); got != base {
		t.Errorf("%s backed by %q, want %s", ov1, got, base)
	}
	if info := qemuImg(t, "info", ov1); !strings.Contains(info, "backing file format: raw") || !strings.Contains(info, "file format: qcow2") {
		t.Errorf("qemu-img info:\n%s", info)
	}
	// As libvirt: the old source had no chain spelled out, so it goes.
	if c := configChain(t, d, "off1", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{ov1}) {
		t.Errorf("persistent chain %v", c)
	}
	if out := mustVirsh(t, uri, "dumpxml --inactive off1"); !strings.Contains(out, "type='qcow2'") {
		t.Errorf("inactive XML:\n%s", out)
	}
	if out := mustVirsh(t, uri, "snapshot-dumpxml off1 s1"); !strings.Contains(out, "<state>shutoff</state>") ||
		!strings.Contains(out, "<source file='"+ov1+"'/>") || !strings.Contains(out, "<source file='"+base+"'/>") {
		t.Errorf("snapshot-dumpxml:\n%s", out)
	}
	if got := snapNames(t, uri, "off1", "--inactive"); got != "s1" {
		t.Errorf("snapshot-list --inactive: %q", got)
	}
	if got := snapNames(t, uri, "off1", "--disk-only"); got != "" {
		t.Errorf("snapshot-list --disk-only: %q", got)
	}

	con = bootDiskGuest(t, d, "off1", sock)
	checkChain(t, d, "off1", liveChain(t, d, "off1", "vda"), ov1, base)
	if got, want := guestSum(t, con, "/dev/vda", 1024), layered(1024, [2]int{1, 1024}); got != want {
		t.Errorf("data in the overlay: %s, want %s", got, want)
	}
	guestWrite(t, con, "/dev/vda", 2, 512)
	mustVirsh(t, uri, "destroy off1")

	ov2 := filepath.Join(dir, "s2.qcow2")
	wantErr(t, uri, "snapshot-create-as off1 s2 --disk-only --diskspec vda,file="+base, "already exists and is not a block device")
	mustVirsh(t, uri, "snapshot-create-as off1 s2 --disk-only --diskspec vda,file="+ov2)
	if c := configChain(t, d, "off1", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{ov2}) {
		t.Errorf("persistent chain %v", c)
	}
	if out := mustVirsh(t, uri, "snapshot-parent off1 s2"); strings.TrimSpace(out) != "s1" {
		t.Errorf("snapshot-parent: %q", out)
	}
	con = bootDiskGuest(t, d, "off1", sock)
	checkChain(t, d, "off1", liveChain(t, d, "off1", "vda"), ov2, ov1, base)
	guestWrite(t, con, "/dev/vda", 3, 256)
	mustVirsh(t, uri, "destroy off1")
	want := layered(1024, [2]int{1, 1024}, [2]int{2, 512}, [2]int{3, 256})

	wantErr(t, uri, "snapshot-revert off1 s2", "unsupported configuration: revert to external snapshot not supported yet")
	if out := mustVirsh(t, uri, "snapshot-delete off1 s2"); !strings.Contains(out, "Domain snapshot s2 deleted") {
		t.Errorf("snapshot-delete: %s", out)
	}
	mustNotExist(t, ov2)
	if c := configChain(t, d, "off1", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{ov1}) {
		t.Errorf("persistent chain after deleting s2: %v", c)
	}
	if out := mustVirsh(t, uri, "snapshot-current off1 --name"); strings.TrimSpace(out) != "s1" {
		t.Errorf("snapshot-current: %q", out)
	}
	mustVirsh(t, uri, "snapshot-delete off1 s1")
	mustNotExist(t, ov1)
	if c := configChain(t, d, "off1", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{base}) {
		t.Errorf("persistent chain after deleting s1: %v", c)
	}
	if out := mustVirsh(t, uri, "dumpxml --inactive off1"); !strings.Contains(out, "type='raw'") {
		t.Errorf("inactive XML after deletes:\n%s", out)
	}
	if got := snapNames(t, uri, "off1"); got != "" {
		t.Errorf("snapshots left: %q", got)
	}
	if out, errOut, rc := virsh(t, uri, "domstate off1"); rc != 0 || !strings.Contains(out, "shut off") {
		t.Errorf("domstate: %s%s", out, errOut)
	}
	con = bootDiskGuest(t, d, "off1", sock)
	checkChain(t, d, "off1", liveChain(t, d, "off1", "vda"), base)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after deleting the snapshots: %s, want %s", got, want)
	}
}

// TestQEMUSnapshotDeleteRunning deletes the external snapshots of a
// running guest: first an inner one (a block commit of its overlay into
// the image below, the overlay above rebased by QEMU), then the current
// one with an active commit and pivot while the guest writes. Images
// keep their indexes, the overlays go, the metadata and the persistent
// definition follow, and every byte the guest wrote survives.
func TestQEMUSnapshotDeleteRunning(t *testing.T) {
	d, con, sock, base, mid, top := runningSnapshotChain(t, "del1")
	uri := d.URI("qemu")
	writes := [][2]int{{1, 2048}, {2, 1024}, {3, 256}}

	chain := liveChain(t, d, "del1", "vda")
	checkChain(t, d, "del1", chain, top, mid, base)
	idx := map[string]int{}
	for _, l := range chain {
		idx[l.Path] = l.Index
	}
	// As libvirt, a running guest's snapshot keeps the old source below
	// the overlay in the persistent definition.
	if c := configChain(t, d, "del1", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{top, mid, base}) {
		t.Errorf("persistent chain %v", c)
	}
	wantErr(t, uri, "snapshot-delete del1 s2 --children", "deletion of external disk snapshots with children not supported")
	// libvirt counts external descendants first.
	wantErr(t, uri, "snapshot-delete del1 s1 --children", "deletion of external children disk snapshots not supported")
	wantErr(t, uri, "snapshot-delete del1 s1 --children-only", "deletion of external children disk snapshots not supported")
	wantErr(t, uri, "snapshot-revert del1 s1", "unsupported configuration: revert to external snapshot not supported yet")
	if got := snapNames(t, uri, "del1"); got != "s1 s2" {
		t.Fatalf("refusals changed the snapshots: %q", got)
	}

	if out := mustVirsh(t, uri, "snapshot-delete del1 s1"); !strings.Contains(out, "Domain snapshot s1 deleted") {
		t.Errorf("snapshot-delete: %s", out)
	}
	chain = liveChain(t, d, "del1", "vda")
	checkChain(t, d, "del1", chain, top, base)
	for _, l := range chain {
		if idx[l.Path] != l.Index {
			t.Errorf("%s changed index %d -> %d", l.Path, idx[l.Path], l.Index)
		}
	}
	mustNotExist(t, mid)
	if got := backingOf(t, top); got != base {
		t.Errorf("%s now backed by %q, want %s", top, got, base)
	}
	if got := snapNames(t, uri, "del1"); got != "s2" {
		t.Errorf("snapshots: %q", got)
	}
	wantErr(t, uri, "snapshot-parent del1 s2", "has no parent")
	if out := mustVirsh(t, uri, "snapshot-dumpxml del1 s2"); strings.Contains(out, mid) || !strings.Contains(out, "<source file='"+base+"'") {
		t.Errorf("s2 still names the deleted overlay:\n%s", out)
	}
	if c := configChain(t, d, "del1", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{top, base}) {
		t.Errorf("persistent chain after the inner delete: %v", c)
	}
	if got, want := guestSum(t, con, "/dev/vda", 2048), layered(2048, writes...); got != want {
		t.Errorf("data after the inner delete: %s, want %s", got, want)
	}

	// The current snapshot goes with an active commit while the guest
	// writes.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		con.Send("gv-write /dev/vda 4 512")
	}()
	mustVirsh(t, uri, "snapshot-delete del1 s2")
	wg.Wait()
	if _, err := con.ExpectRegexp(writeRe, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	writes = append(writes, [2]int{4, 512})
	chain = liveChain(t, d, "del1", "vda")
	checkChain(t, d, "del1", chain, base)
	if chain[0].Index != idx[base] {
		t.Errorf("base index %d, was %d", chain[0].Index, idx[base])
	}
	mustNotExist(t, top)
	if got := snapNames(t, uri, "del1"); got != "" {
		t.Errorf("snapshots: %q", got)
	}
	wantErr(t, uri, "snapshot-current del1", "has no current snapshot")
	if c := configChain(t, d, "del1", "vda"); len(c) != 1 || c[0] != base {
		t.Errorf("persistent chain after the active delete: %v", c)
	}
	want := layered(2048, writes...)
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data after the active delete: %s, want %s", got, want)
	}
	if out := jobInfo(t, uri, "del1"); !strings.Contains(out, "No current block job") {
		t.Errorf("job left behind: %q", out)
	}
	mustVirsh(t, uri, "destroy del1")
	qemuImg(t, "check", "-q", base)
	con = bootDiskGuest(t, d, "del1", sock)
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data after restart: %s, want %s", got, want)
	}
}

// TestQEMUSnapshotDeleteShutOffChain deletes, with the guest shut off,
// snapshots taken while it ran: their overlays are spelled out in the
// persistent definition, so an inner one can go too. Snapshots taken
// while shut off leave only the top overlay in the definition, and
// libvirt 9.0 then cannot find an inner one. --children and
// --children-only with --metadata follow libvirt.
func TestQEMUSnapshotDeleteShutOffChain(t *testing.T) {
	d, con, sock, base, mid, top := runningSnapshotChain(t, "del2")
	uri := d.URI("qemu")
	want := layered(2048, [2]int{1, 2048}, [2]int{2, 1024}, [2]int{3, 256})
	mustVirsh(t, uri, "destroy del2")

	mustVirsh(t, uri, "snapshot-delete del2 s1")
	mustNotExist(t, mid)
	if got := backingOf(t, top); got != base {
		t.Errorf("%s backed by %q, want %s", top, got, base)
	}
	if c := configChain(t, d, "del2", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{top, base}) {
		t.Errorf("persistent chain after the inner delete: %v", c)
	}
	if out := mustVirsh(t, uri, "snapshot-dumpxml del2 s2"); strings.Contains(out, mid) {
		t.Errorf("s2 still names the deleted overlay:\n%s", out)
	}
	mustVirsh(t, uri, "snapshot-delete del2 s2")
	mustNotExist(t, top)
	if c := configChain(t, d, "del2", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{base}) {
		t.Errorf("persistent chain after the top delete: %v", c)
	}
	qemuImg(t, "check", "-q", base)

	// libvirt names default overlays after the image: base.o1 and so on.
	stem := strings.TrimSuffix(base, "qcow2")
	o1, o2, o3 := stem+"o1", stem+"o2", stem+"o3"
	mustVirsh(t, uri, "snapshot-create-as del2 o1 --disk-only")
	mustVirsh(t, uri, "snapshot-create-as del2 o2 --disk-only")
	if c := configChain(t, d, "del2", "vda"); fmt.Sprint(c) != fmt.Sprint([]string{o2}) {
		t.Errorf("persistent chain: %v", c)
	}
	wantErr(t, uri, "snapshot-delete del2 o1", "could not find base disk source in disk source chain")
	wantErr(t, uri, "snapshot-delete del2 o1 --children-only", "deletion of external children disk snapshots not supported")
	mustVirsh(t, uri, "snapshot-create-as del2 o3 --disk-only")
	mustVirsh(t, uri, "snapshot-delete del2 o1 --children-only --metadata")
	if got := snapNames(t, uri, "del2"); got != "o1" {
		t.Errorf("after --children-only --metadata: %q", got)
	}
	if out := mustVirsh(t, uri, "snapshot-current del2 --name"); strings.TrimSpace(out) != "o1" {
		t.Errorf("snapshot-current: %q", out)
	}
	// An external leaf has no children to delete: nothing happens.
	mustVirsh(t, uri, "snapshot-delete del2 o1 --children-only")
	mustVirsh(t, uri, "snapshot-delete del2 o1 --children --metadata")
	if got := snapNames(t, uri, "del2"); got != "" {
		t.Errorf("after --children --metadata: %q", got)
	}
	for _, p := range []string{o1, o2, o3} {
		mustExist(t, p)
	}
	con = bootDiskGuest(t, d, "del2", sock)
	checkChain(t, d, "del2", liveChain(t, d, "del2", "vda"), o3, o2, o1, base)
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data: %s, want %s", got, want)
	}
}

// runningSnapshotChain boots a guest on base.qcow2 and takes snapshots s1
// (overlay mid) and s2 (overlay top) while it runs, the guest writing
// seed 1 (2048 KiB) before s1, seed 2 (1024 KiB) before s2 and seed 3
// (256 KiB) after.
func runningSnapshotChain(t *testing.T, name string) (d *daemon, con *testguest.Console, sock, base, mid, top string) {
	t.Helper()
	d = startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base, mid, top = filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "mid.qcow2"), filepath.Join(dir, "top.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	sock = defineDiskGuest(t, d, name, base, "qcow2")
	con = bootDiskGuest(t, d, name, sock)
	guestWrite(t, con, "/dev/vda", 1, 2048)
	mustVirsh(t, uri, "snapshot-create-as "+name+" s1 --disk-only --diskspec vda,file="+mid)
	guestWrite(t, con, "/dev/vda", 2, 1024)
	mustVirsh(t, uri, "snapshot-create-as "+name+" s2 --disk-only --diskspec vda,file="+top)
	guestWrite(t, con, "/dev/vda", 3, 256)
	return d, con, sock, base, mid, top
}
