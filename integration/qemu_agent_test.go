package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/testguest"
)

// agentChannelXML is the guest agent channel as users write it: no
// source path, so the driver makes the socket.
const agentChannelXML = `<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
`

// agentEvents runs `virsh event --loop` for one event kind and collects
// its lines.
type agentEvents struct {
	mu    sync.Mutex
	lines []string
	cmd   *exec.Cmd
}

func watchAgentEvents(t *testing.T, uri, event string) *agentEvents {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &agentEvents{cmd: exec.CommandContext(ctx, "virsh", "-c", uri, "event", "--loop", "--event", event)}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); w.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
		}
	}()
	time.Sleep(500 * time.Millisecond) // registered before anything happens
	return w
}

// mark is how many lines came so far.
func (w *agentEvents) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// wait waits for a line containing want among those from line from on.
func (w *agentEvents) wait(t *testing.T, from int, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for _, l := range w.lines[min(from, len(w.lines)):] {
			if strings.Contains(l, want) {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Fatalf("no event %q in %q", want, w.lines)
}

// waitAgent polls dumpxml until the agent channel shows state.
func waitAgent(t *testing.T, uri, name, state string, timeout time.Duration) string {
	t.Helper()
	re := regexp.MustCompile(`<target [^>]*name='org.qemu.guest_agent.0'[^>]* state='` + state + `'/>`)
	deadline := time.Now().Add(timeout)
	var xml string
	for time.Now().Before(deadline) {
		xml = mustVirsh(t, uri, "dumpxml "+name)
		if re.MatchString(xml) {
			return xml
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("agent channel of %s never %s:\n%s", name, state, xml)
	return ""
}

// TestQEMUGuestAgent boots the test guest with its agent and checks
// every agent read call against what the guest really has, the channel
// state and AGENT_LIFECYCLE events as qemu-ga stops and starts, and that
// a hung agent fails agent calls after the timeout without holding up
// other calls on the guest.
func TestQEMUGuestAgent(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	disk := rawImage(t, t.TempDir(), "ga.img", "16M")
	sock := defineGuestDevices(t, d, "ga", `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='`+disk+`'/>
  <target dev='vdb' bus='virtio'/>
</disk>
`+agentChannelXML)
	ev := watchAgentEvents(t, uri, "agent-lifecycle")
	mustVirsh(t, uri, "start ga")
	con := console(t, sock)
	// (generous: the machine running this may be very busy)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		out := con.Output()
		qlog, _ := os.ReadFile(filepath.Join(d.dir, "state", "qemu", "log", "ga.log"))
		t.Fatalf("ga did not boot: %v\nconsole: %q\nQEMU log: %s", err, out[max(0, len(out)-3000):], qlog)
	}
	ev.wait(t, 0, "event 'agent-lifecycle' for domain 'ga': state: 'disconnected' reason: 'domain started'", 10*time.Second)
	live := waitAgent(t, uri, "ga", "connected", 60*time.Second)
	ev.wait(t, 0, "event 'agent-lifecycle' for domain 'ga': state: 'connected' reason: 'channel event'", 10*time.Second)

	// libvirt's socket layout: channel/target/domain-ID-NAME/TARGETNAME.
	m := regexp.MustCompile(`<source mode='bind' path='([^']+)'/>\s*<target type='virtio' name='org.qemu.guest_agent.0'`).FindStringSubmatch(live)
	id := strings.TrimSpace(mustVirsh(t, uri, "domid ga"))
	want := filepath.Join(d.dir, "run", "qemu", "channel", "target", "domain-"+id+"-ga", "org.qemu.guest_agent.0")
	if m == nil || m[1] != want {
		t.Errorf("agent socket %q, want %s", m, want)
	}

	// domtime: the guest's clock, which the guest shows too.
	out := mustVirsh(t, uri, "domtime ga")
	secs, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Time:")), 10, 64)
	if err != nil {
		t.Fatalf("domtime: %q", out)
	}
	guestNow, _ := strconv.ParseInt(guestRun(t, con, "date +%s"), 10, 64)
	if d := guestNow - secs; d < 0 || d > 60 {
		t.Errorf("domtime %d, guest date %d", secs, guestNow)
	}
	if out := mustVirsh(t, uri, "domtime ga --pretty"); !strings.Contains(out, "Time: 20") {
		t.Errorf("domtime --pretty: %q", out)
	}

	// domhostname (agent by default and with --source agent).
	for _, cmd := range []string{"domhostname ga", "domhostname ga --source agent"} {
		if out := strings.TrimSpace(mustVirsh(t, uri, cmd)); out != "govirt-guest" {
			t.Errorf("%s: %q", cmd, out)
		}
	}

	// domifaddr --source agent: lo with its addresses.
	out = mustVirsh(t, uri, "domifaddr ga --source agent --full")
	for _, w := range []string{"lo", "00:00:00:00:00:00", "ipv4", "127.0.0.1/8", "ipv6", "::1/128"} {
		if !strings.Contains(out, w) {
			t.Errorf("domifaddr lacks %q:\n%s", w, out)
		}
	}

	// guestvcpus: one vCPU, online, not offlinable (the boot CPU).
	out = mustVirsh(t, uri, "guestvcpus ga")
	for _, w := range []string{"vcpus          : 0", "online         : 0", "offlinable     : "} {
		if !strings.Contains(out, w) {
			t.Errorf("guestvcpus lacks %q:\n%s", w, out)
		}
	}

	// domfsinfo: nothing mounted from a disk yet; then the disk is.
	if out := mustVirsh(t, uri, "domfsinfo ga"); strings.Contains(out, "/mnt") {
		t.Errorf("domfsinfo before mount: %q", out)
	}
	if r := guestRun(t, con, "gv-mount /dev/vda /mnt/data"); !strings.Contains(r, "GV-MOUNT /dev/vda /mnt/data ok") {
		t.Fatalf("gv-mount: %q", r)
	}
	out = mustVirsh(t, uri, "domfsinfo ga")
	if !regexp.MustCompile(`(?m)^\s*/mnt/data\s+vda\s+ext4\s+vdb\s*$`).MatchString(out) {
		t.Errorf("domfsinfo:\n%s", out)
	}

	// guestinfo: all of it, and one type.
	info := mustVirsh(t, uri, "guestinfo ga")
	for _, w := range []string{
		"user.count          : 0",
		"os.id               : govirt-testguest",
		"os.name             : govirt test guest",
		"os.version-id       : 1",
		"os.machine          : x86_64",
		"os.kernel-release   : " + kernelRelease(t),
		"timezone.name       : UTC",
		"timezone.offset     : 0",
		"hostname            : govirt-guest",
		"fs.count            : 1",
		"fs.0.name           : vda",
		"fs.0.mountpoint     : /mnt/data",
		"fs.0.fstype         : ext4",
		"fs.0.disk.count     : 1",
		"fs.0.disk.0.alias   : vdb",
		"fs.0.disk.0.device  : /dev/vda",
		"disk.count          : 1",
		"disk.0.name         : /dev/vda",
		"disk.0.partition    : no",
		"disk.0.alias        : vdb",
		"if.count            : 1",
		"if.0.name           : lo",
		"if.0.addr.0.addr    : 127.0.0.1",
		"if.0.addr.0.prefix  : 8",
	} {
		if !strings.Contains(info, w) {
			t.Errorf("guestinfo lacks %q:\n%s", w, info)
		}
	}
	if out := mustVirsh(t, uri, "guestinfo ga --hostname"); strings.TrimSpace(out) != "hostname            : govirt-guest" {
		t.Errorf("guestinfo --hostname: %q", out)
	}

	// qemu-agent-command passes JSON through and taints the guest.
	out = mustVirsh(t, uri, `qemu-agent-command ga '{"execute":"guest-get-host-name"}'`)
	var reply struct {
		Return struct {
			HostName string `json:"host-name"`
		} `json:"return"`
	}
	if json.Unmarshal([]byte(out), &reply) != nil || reply.Return.HostName != "govirt-guest" {
		t.Errorf("qemu-agent-command: %q", out)
	}
	virshFails(t, uri, `qemu-agent-command ga '{"execute":"guest-nonsense"}'`,
		"internal error: unable to execute QEMU agent command 'guest-nonsense': The command guest-nonsense has not been found")
	if out := mustVirsh(t, uri, "dominfo ga"); !strings.Contains(out, "tainted: custom guest agent control commands issued") {
		t.Errorf("dominfo after qemu-agent-command has no taint:\n%s", out)
	}

	// The agent stops: not connected, and AGENT_LIFECYCLE says so.
	n := ev.mark()
	if r := guestRun(t, con, "gv-agent stop"); !strings.Contains(r, "GV-AGENT stopped") {
		t.Fatalf("gv-agent stop: %q", r)
	}
	waitAgent(t, uri, "ga", "disconnected", 30*time.Second)
	ev.wait(t, n, "state: 'disconnected' reason: 'channel event'", 10*time.Second)
	virshFails(t, uri, "domtime ga", "error: Guest agent is not responding: QEMU guest agent is not connected")
	virshFails(t, uri, "guestinfo ga", "error: Guest agent is not responding: QEMU guest agent is not connected")

	// It comes back.
	if r := guestRun(t, con, "gv-agent start"); !strings.Contains(r, "GV-AGENT started") || strings.Contains(r, "started 0") {
		t.Fatalf("gv-agent start: %q", r)
	}
	waitAgent(t, uri, "ga", "connected", 30*time.Second)
	mustVirsh(t, uri, "domtime ga")

	// A hung agent: agent calls fail after the timeout (2 s here), other
	// calls on the guest answer at once meanwhile.
	mustVirsh(t, uri, "guest-agent-timeout ga --timeout 2")
	if r := guestRun(t, con, "gv-agent pause"); !strings.Contains(r, "GV-AGENT paused") {
		t.Fatalf("gv-agent pause: %q", r)
	}
	done := make(chan string, 1)
	t0 := time.Now()
	go func() {
		_, e, _ := virsh(t, uri, "domtime ga")
		done <- e
	}()
	time.Sleep(300 * time.Millisecond)
	for _, cmd := range []string{"dominfo ga", "domstate ga", "dumpxml ga", "domcontrol ga"} {
		c0 := time.Now()
		mustVirsh(t, uri, cmd)
		if el := time.Since(c0); el > 1500*time.Millisecond {
			t.Errorf("%s took %v while the agent hung", cmd, el)
		}
	}
	select {
	case e := <-done:
		el := time.Since(t0)
		if !strings.Contains(e, "Guest agent is not responding: Guest agent not available for now") {
			t.Errorf("domtime on a hung agent: %q", e)
		}
		if el < 1500*time.Millisecond || el > 10*time.Second {
			t.Errorf("domtime on a hung agent took %v, want about 2 s", el)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("domtime on a hung agent never returned")
	}
	// The agent wakes up: the late reply is skipped, calls work again.
	guestRun(t, con, "gv-agent cont")
	if out := strings.TrimSpace(mustVirsh(t, uri, "domhostname ga")); out != "govirt-guest" {
		t.Errorf("domhostname after the agent woke: %q", out)
	}
	mustVirsh(t, uri, "guest-agent-timeout ga")
	virshFails(t, uri, "guest-agent-timeout ga --timeout -3", "invalid argument: guest agent timeout '-3' is less than the minimum '-2'")

	// Reset: the agent closes and comes back with the guest.
	n = ev.mark()
	mustVirsh(t, uri, "reset ga")
	ev.wait(t, n, "state: 'disconnected' reason: 'channel event'", 10*time.Second)
	// (generous: the machine running this may be very busy)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		out := con.Output()
		t.Fatalf("no reboot: %v\n%q", err, out[max(0, len(out)-3000):])
	}
	ev.wait(t, n, "state: 'connected' reason: 'channel event'", 60*time.Second)
	waitAgent(t, uri, "ga", "connected", 60*time.Second)
	if out := strings.TrimSpace(mustVirsh(t, uri, "domhostname ga")); out != "govirt-guest" {
		t.Errorf("domhostname after reset: %q", out)
	}

	// A daemon restart reconnects to the agent and keeps its timeout.
	mustVirsh(t, uri, "guest-agent-timeout ga --timeout 3")
	d.crashRestart()
	waitAgent(t, uri, "ga", "connected", 30*time.Second)
	if out := strings.TrimSpace(mustVirsh(t, uri, "domhostname ga")); out != "govirt-guest" {
		t.Errorf("domhostname after a daemon restart: %q", out)
	}
	guestRun(t, con, "gv-agent pause")
	t0 = time.Now()
	virshFails(t, uri, "guestinfo ga --os", "Guest agent is not responding: Guest agent not available for now")
	if el := time.Since(t0); el < 2500*time.Millisecond || el > 12*time.Second {
		t.Errorf("guestinfo on a hung agent took %v after the restart, want about 3 s", el)
	}
	guestRun(t, con, "gv-agent cont")

	mustVirsh(t, uri, "destroy ga")
	virshFails(t, uri, "domtime ga", "Requested operation is not valid: domain is not running")
	if _, err := os.Stat(filepath.Dir(want)); !os.IsNotExist(err) {
		t.Errorf("channel directory left behind: %v", err)
	}
}

// kernelRelease is the test guest's kernel version.
func kernelRelease(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(testguest.Dir(), "kernel-version"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}
