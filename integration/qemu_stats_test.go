package integration

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// statValue extracts "  name=value" from virsh domstats output.
func statValue(t *testing.T, out, name string) uint64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `=(\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("domstats lacks %s:\n%s", name, out)
	}
	v, _ := strconv.ParseUint(m[1], 10, 64)
	return v
}

// TestQEMUDomstats: the statistics move when the guest works, and a guest
// whose QEMU is frozen does not hold up the statistics of the others.
func TestQEMUDomstats(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	disk := rawImage(t, dir, "st.img", "8M")
	sock := defineGuestDevices(t, d, "st", `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='`+disk+`'/>
  <target dev='vda' bus='virtio'/>
</disk>
`)
	sock2 := defineGuestDevices(t, d, "st2", "")
	con := bootGuest(t, d, "st", sock)
	bootGuest(t, d, "st2", sock2)

	before := mustVirsh(t, uri, "domstats st")
	for _, want := range []string{"state.state=1", "vcpu.current=1", "vcpu.maximum=1", "vcpu.0.state=1",
		"balloon.maximum=131072", "block.count=1", "block.0.name=vda", "block.0.path=" + disk, "net.count=0"} {
		if !strings.Contains(before, want) {
			t.Errorf("domstats lacks %q:\n%s", want, before)
		}
	}
	statValue(t, before, "balloon.rss")
	con.Send("gv-write /dev/vda 3 512")
	if _, err := con.Expect("GV-WRITE /dev/vda", 60*time.Second); err != nil {
		t.Fatalf("gv-write: %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // past the sample cache
	after := mustVirsh(t, uri, "domstats st")
	if b, a := statValue(t, before, "block.0.wr.bytes"), statValue(t, after, "block.0.wr.bytes"); a < b+512*1024 {
		t.Errorf("block.0.wr.bytes %d -> %d after writing 512 KiB", b, a)
	}
	if b, a := statValue(t, before, "cpu.time"), statValue(t, after, "cpu.time"); a <= b {
		t.Errorf("cpu.time did not grow: %d -> %d", b, a)
	}
	if b, a := statValue(t, before, "vcpu.0.time"), statValue(t, after, "vcpu.0.time"); a <= b {
		t.Errorf("vcpu.0.time did not grow: %d -> %d", b, a)
	}
	st := mustVirsh(t, uri, "domblkstat st vda")
	if !strings.Contains(st, "vda wr_bytes") {
		t.Errorf("domblkstat:\n%s", st)
	}
	mem := mustVirsh(t, uri, "dommemstat st")
	for _, want := range []string{"actual 131072", "rss "} {
		if !strings.Contains(mem, want) {
			t.Errorf("dommemstat lacks %q:\n%s", want, mem)
		}
	}
	virshFails(t, uri, "domblkstat st vdz", "invalid path: vdz")

	// Freeze st2's QEMU: its monitor stops answering. domstats of both
	// still answers promptly, with st's block stats.
	out, _ := exec.Command("pgrep", "-f", "guest=st2,").Output()
	pids := strings.Fields(string(out))
	if len(pids) != 1 {
		t.Fatalf("QEMU of st2: %q", out)
	}
	pid, _ := strconv.Atoi(pids[0])
	syscall.Kill(pid, syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGCONT)
	time.Sleep(1100 * time.Millisecond)
	t0 := time.Now()
	all := mustVirsh(t, uri, "domstats st st2")
	if el := time.Since(t0); el > 5*time.Second {
		t.Errorf("domstats with a frozen guest took %v", el)
	}
	if !strings.Contains(all, "Domain: 'st2'") || !strings.Contains(all, "block.0.wr.bytes=") {
		t.Errorf("domstats with a frozen guest:\n%s", all)
	}
	t0 = time.Now()
	mustVirsh(t, uri, "domstats st --block")
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("domstats of a healthy guest took %v while another is frozen", el)
	}
}
