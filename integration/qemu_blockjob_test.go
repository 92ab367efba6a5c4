package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestQEMUBlockChainCommit builds base <- mid <- top with two disk-only
// snapshots of a running guest, checks the chain and its indexes, commits
// the active layer with a pivot while the guest writes, then builds a
// longer chain and commits an inner part by index. The guest's data
// survives every step.
func TestQEMUBlockChainCommit(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base, mid, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "mid.qcow2"), filepath.Join(dir, "top.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	sock := defineDiskGuest(t, d, "bc1", base, "qcow2")
	con := bootDiskGuest(t, d, "bc1", sock)

	checkChain(t, d, "bc1", liveChain(t, d, "bc1", "vda"), base)
	guestWrite(t, con, "/dev/vda", 1, 256)
	mustVirsh(t, uri, "snapshot-create-as bc1 s1 --disk-only --diskspec vda,file="+mid)
	guestWrite(t, con, "/dev/vda", 2, 512)
	mustVirsh(t, uri, "snapshot-create-as bc1 s2 --disk-only --diskspec vda,file="+top)
	want := guestWrite(t, con, "/dev/vda", 3, 1024)

	chain := liveChain(t, d, "bc1", "vda")
	checkChain(t, d, "bc1", chain, top, mid, base)
	if out := mustVirsh(t, uri, "domblklist bc1"); !strings.Contains(out, top) {
		t.Errorf("domblklist:\n%s", out)
	}
	if out := mustVirsh(t, uri, "snapshot-list bc1 --name"); !strings.Contains(out, "s1") || !strings.Contains(out, "s2") {
		t.Errorf("snapshot-list:\n%s", out)
	}
	if out := mustVirsh(t, uri, "snapshot-current bc1 --name"); strings.TrimSpace(out) != "s2" {
		t.Errorf("snapshot-current: %q", out)
	}
	if out := mustVirsh(t, uri, "snapshot-dumpxml bc1 s2"); !strings.Contains(out, "<state>disk-snapshot</state>") ||
		!strings.Contains(out, top) || !strings.Contains(out, "<name>s1</name>") {
		t.Errorf("snapshot-dumpxml:\n%s", out)
	}
	baseIdx := chain[2].Index

	// Active commit with pivot while the guest writes.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		con.Send("gv-write /dev/vda 4 2048")
	}()
	out := mustVirsh(t, uri, "blockcommit bc1 vda --active --pivot --wait --verbose")
	if !strings.Contains(out, "Successfully pivoted") {
		t.Errorf("blockcommit:\n%s", out)
	}
	wg.Wait()
	m, err := con.ExpectRegexp(writeRe, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want = m[2]
	chain = liveChain(t, d, "bc1", "vda")
	checkChain(t, d, "bc1", chain, base)
	if chain[0].Index != baseIdx {
		t.Errorf("base index %d after pivot, was %d", chain[0].Index, baseIdx)
	}
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data after active commit: %s, want %s", got, want)
	}

	// A longer chain: base <- c <- e <- f, then commit e into base.
	c, e, f := filepath.Join(dir, "c.qcow2"), filepath.Join(dir, "e.qcow2"), filepath.Join(dir, "f.qcow2")
	mustVirsh(t, uri, "snapshot-create-as bc1 s3 --disk-only --no-metadata --diskspec vda,file="+c)
	guestWrite(t, con, "/dev/vda", 5, 300)
	mustVirsh(t, uri, "snapshot-create-as bc1 s4 --disk-only --no-metadata --diskspec vda,file="+e)
	guestWrite(t, con, "/dev/vda", 6, 700)
	mustVirsh(t, uri, "snapshot-create-as bc1 s5 --disk-only --no-metadata --diskspec vda,file="+f)
	want = guestWrite(t, con, "/dev/vda", 7, 1500)
	chain = liveChain(t, d, "bc1", "vda")
	checkChain(t, d, "bc1", chain, f, e, c, base)
	if out := mustVirsh(t, uri, "snapshot-list bc1 --name"); strings.Contains(out, "s3") {
		t.Errorf("--no-metadata snapshot listed:\n%s", out)
	}
	before := map[string]int{}
	for _, l := range chain {
		before[l.Path] = l.Index
	}
	mustVirsh(t, uri, fmt.Sprintf("blockcommit bc1 vda --top vda[%d] --base vda[%d] --wait", before[e], before[base]))
	chain = liveChain(t, d, "bc1", "vda")
	checkChain(t, d, "bc1", chain, f, base)
	for _, l := range chain {
		if before[l.Path] != l.Index {
			t.Errorf("%s changed index %d -> %d", l.Path, before[l.Path], l.Index)
		}
	}
	if _, errOut, rc := virsh(t, uri, fmt.Sprintf("domblkinfo bc1 vda[%d]", before[e])); rc == 0 || !strings.Contains(errOut, "could not find backing store index") {
		t.Errorf("committed image still resolves: rc=%d %s", rc, errOut)
	}
	if got := guestSum(t, con, "/dev/vda", 1500); got != want {
		t.Errorf("data after commit: %s, want %s", got, want)
	}
	// A full pull collapses the rest into the top.
	mustVirsh(t, uri, "blockpull bc1 vda --wait")
	checkChain(t, d, "bc1", liveChain(t, d, "bc1", "vda"), f)
	if got := guestSum(t, con, "/dev/vda", 1500); got != want {
		t.Errorf("data after pull: %s, want %s", got, want)
	}
	mustVirsh(t, uri, "snapshot-delete bc1 s1 --metadata")
	if out := mustVirsh(t, uri, "snapshot-info bc1 s2"); !strings.Contains(out, "Current:        yes") {
		t.Errorf("snapshot-info:\n%s", out)
	}
	// An internal snapshot of the qcow2 top, with memory, as libvirt
	// takes it; deleting it makes s2 current again.
	mustVirsh(t, uri, "snapshot-create-as bc1 mem")
	if out := mustVirsh(t, uri, "snapshot-dumpxml bc1 mem"); !strings.Contains(out, "<memory snapshot='internal'/>") {
		t.Errorf("internal snapshot:\n%s", out)
	}
	mustVirsh(t, uri, "snapshot-delete bc1 mem")
	if out := mustVirsh(t, uri, "snapshot-current bc1 --name"); strings.TrimSpace(out) != "s2" {
		t.Errorf("snapshot-current after deleting mem: %q", out)
	}
	mustVirsh(t, uri, "destroy bc1")
	// The persistent definition follows the disk: the next start uses f.
	if out := mustVirsh(t, uri, "dumpxml bc1 --inactive"); !strings.Contains(out, f) {
		t.Errorf("inactive XML does not use %s:\n%s", f, out)
	}
}

// TestQEMUBlockCopyPivot copies a running guest's disk to a new qcow2,
// pivots to it, then restarts the guest: the data is intact.
func TestQEMUBlockCopyPivot(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base, copyImg := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "copy.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	sock := defineDiskGuest(t, d, "cp1", base, "qcow2")
	con := bootDiskGuest(t, d, "cp1", sock)
	want := guestWrite(t, con, "/dev/vda", 11, 2048)

	// libvirt refuses a copy of a persistent guest unless the job is
	// declared transient.
	if _, errOut, rc := virsh(t, uri, "blockcopy cp1 vda "+copyImg+" --format qcow2 --wait"); rc == 0 || !strings.Contains(errOut, "domain is not transient") {
		t.Errorf("persistent copy: rc=%d %s", rc, errOut)
	}
	out := mustVirsh(t, uri, "blockcopy cp1 vda "+copyImg+" --format qcow2 --transient-job --pivot --wait --verbose")
	if !strings.Contains(out, "Successfully pivoted") {
		t.Errorf("blockcopy:\n%s", out)
	}
	chain := liveChain(t, d, "cp1", "vda")
	checkChain(t, d, "cp1", chain, copyImg)
	if chain[0].Index != 2 {
		t.Errorf("copy has index %d, want 2 (the next free one)", chain[0].Index)
	}
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data after pivot: %s, want %s", got, want)
	}
	mustVirsh(t, uri, "destroy cp1")
	con = bootDiskGuest(t, d, "cp1", sock)
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data after restart: %s, want %s", got, want)
	}
	qemuImg(t, "compare", "-U", "-f", "qcow2", "-F", "qcow2", base, copyImg)
}

// TestQEMUBlockCopyDaemonRestart kills govirtd during a slow copy; the
// restarted daemon still tracks the job, which then reaches ready and
// pivots.
func TestQEMUBlockCopyDaemonRestart(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	base, copyImg := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "copy.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	sock := defineDiskGuest(t, d, "cp2", base, "qcow2")
	con := bootDiskGuest(t, d, "cp2", sock)
	want := guestWrite(t, con, "/dev/vda", 21, 16384)

	mustVirsh(t, uri, "blockcopy cp2 vda "+copyImg+" --format qcow2 --transient-job --bandwidth 1")
	if _, errOut, rc := virsh(t, uri, "blockjob cp2 vda --pivot"); rc == 0 || !strings.Contains(errOut, "not ready for pivot yet") {
		t.Errorf("early pivot: rc=%d %s", rc, errOut)
	}
	if _, errOut, rc := virsh(t, uri, "blockpull cp2 vda"); rc == 0 || !strings.Contains(errOut, "already in active block job") {
		t.Errorf("second job: rc=%d %s", rc, errOut)
	}
	d.crashRestart()
	out := jobInfo(t, uri, "cp2")
	if !strings.Contains(out, "Block Copy") {
		t.Fatalf("job lost after restart: %q\n%s", out, d.Log())
	}
	mustVirsh(t, uri, "blockjob cp2 vda --bandwidth 0")
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out, "100 %") {
		if time.Now().After(deadline) {
			t.Fatalf("copy never ready: %q", out)
		}
		time.Sleep(200 * time.Millisecond)
		out = jobInfo(t, uri, "cp2")
	}
	// Ready shows in the live XML too; wait for it to be recorded.
	mustVirsh(t, uri, "blockjob cp2 vda --pivot")
	checkChain(t, d, "cp2", liveChain(t, d, "cp2", "vda"), copyImg)
	if got := guestSum(t, con, "/dev/vda", 16384); got != want {
		t.Errorf("data after pivot: %s, want %s", got, want)
	}
	if out := jobInfo(t, uri, "cp2"); !strings.Contains(out, "No current block job") {
		t.Errorf("job still listed: %q", out)
	}
}

// TestQEMUBlockChainErrors: broken chains refuse to start with an error
// naming the problem; a second job on a busy disk and aborts leave the
// chain as it was.
func TestQEMUBlockChainErrors(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()

	a, b := filepath.Join(dir, "a.qcow2"), filepath.Join(dir, "b.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", a, "16M")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", a, b, "16M")
	qemuImg(t, "rebase", "-q", "-u", "-f", "qcow2", "-F", "qcow2", "-b", b, a)
	defineDiskGuest(t, d, "loop", b, "qcow2")
	if _, errOut, rc := virsh(t, uri, "start loop"); rc == 0 || !strings.Contains(errOut, "self-referential") {
		t.Errorf("loop: rc=%d %s", rc, errOut)
	}
	if out := mustVirsh(t, uri, "domstate loop"); !strings.Contains(out, "shut off") {
		t.Errorf("loop guest: %s", out)
	}

	missing := filepath.Join(dir, "missing.qcow2")
	orphan := filepath.Join(dir, "orphan.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", missing, orphan, "16M")
	defineDiskGuest(t, d, "orphan", orphan, "qcow2")
	if _, errOut, rc := virsh(t, uri, "start orphan"); rc == 0 || !strings.Contains(errOut, "missing.qcow2") {
		t.Errorf("missing backing: rc=%d %s", rc, errOut)
	}

	noFmt := filepath.Join(dir, "nofmt.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", a, noFmt, "16M")
	dropBackingFormat(t, noFmt)
	defineDiskGuest(t, d, "nofmt", noFmt, "qcow2")
	if _, errOut, rc := virsh(t, uri, "start nofmt"); rc == 0 || !strings.Contains(errOut, "format") {
		t.Errorf("undeclared backing format: rc=%d %s", rc, errOut)
	}

	// A chain where an active commit becomes ready at once.
	base, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", base, "64M")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, top)
	sock := defineDiskGuest(t, d, "busy", top, "qcow2")
	con := bootDiskGuest(t, d, "busy", sock)
	want := guestWrite(t, con, "/dev/vda", 31, 512)
	chain := liveChain(t, d, "busy", "vda")
	checkChain(t, d, "busy", chain, top, base)
	out := mustVirsh(t, uri, "blockcommit busy vda --active")
	if !strings.Contains(out, "Active Block Commit started") {
		t.Errorf("blockcommit: %s", out)
	}
	if _, errOut, rc := virsh(t, uri, "blockcommit busy vda --active"); rc == 0 || !strings.Contains(errOut, "already in active block job") {
		t.Errorf("second commit: rc=%d %s", rc, errOut)
	}
	if _, errOut, rc := virsh(t, uri, "snapshot-create-as busy x --disk-only"); rc == 0 || !strings.Contains(errOut, "already in active block job") {
		t.Errorf("snapshot during job: rc=%d %s", rc, errOut)
	}
	// Abort after ready keeps the overlay: nothing changes.
	mustVirsh(t, uri, "blockjob busy vda --abort")
	if got := liveChain(t, d, "busy", "vda"); fmt.Sprint(got) != fmt.Sprint(chain) {
		t.Errorf("chain after abort %+v, was %+v", got, chain)
	}
	if _, errOut, rc := virsh(t, uri, "blockjob busy vda --pivot"); rc == 0 || !strings.Contains(errOut, "does not have an active block job") {
		t.Errorf("pivot without job: rc=%d %s", rc, errOut)
	}
	if _, errOut, rc := virsh(t, uri, "blockcommit busy vda"); rc == 0 || !strings.Contains(errOut, "requires active flag") {
		t.Errorf("commit of the active layer without --active: rc=%d %s", rc, errOut)
	}
	if _, errOut, rc := virsh(t, uri, "blockcommit busy vda --active --top vda[9]"); rc == 0 || !strings.Contains(errOut, "could not find backing store index '9'") {
		t.Errorf("bad index: rc=%d %s", rc, errOut)
	}
	if got := liveChain(t, d, "busy", "vda"); fmt.Sprint(got) != fmt.Sprint(chain) {
		t.Errorf("chain after refused jobs %+v, was %+v", got, chain)
	}
	if got := guestSum(t, con, "/dev/vda", 512); got != want {
		t.Errorf("data: %s, want %s", got, want)
	}
}

// jobInfo is `blockjob DOM vda --info`; virsh prints the progress bar on
// stderr and the rest on stdout.
func jobInfo(t *testing.T, uri, dom string) string {
	t.Helper()
	out, errOut, rc := virsh(t, uri, "blockjob "+dom+" vda --info")
	if rc != 0 {
		t.Fatalf("blockjob --info: rc=%d %s%s", rc, out, errOut)
	}
	return out + errOut
}
