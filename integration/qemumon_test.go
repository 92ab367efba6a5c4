package integration

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestQemuMonitorCommand: the QEMU program through virsh — raw QMP and
// HMP commands, the custom-monitor taint, raw monitor events, and the
// read-only refusal.
func TestQemuMonitorCommand(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	definePTYGuest(t, d, "m1", "")
	mustVirsh(t, uri, "start m1")

	if info := mustVirsh(t, uri, "dominfo m1"); strings.Contains(info, "tainted") {
		t.Errorf("untouched guest is tainted:\n%s", info)
	}
	out := mustVirsh(t, uri, `qemu-monitor-command m1 '{"execute":"query-status"}'`)
	if !regexp.MustCompile(`^\{"return":\{[^}]*"status":"running"[^}]*\},"id":"libvirt-\d+"\}\n`).MatchString(out) {
		t.Errorf("query-status reply: %q", out)
	}
	out = mustVirsh(t, uri, `qemu-monitor-command m1 --pretty '{"execute":"query-status"}'`)
	if !strings.Contains(out, `"status": "running"`) {
		t.Errorf("query-status --pretty: %q", out)
	}
	out = mustVirsh(t, uri, "qemu-monitor-command m1 --hmp info status")
	if !strings.Contains(out, "VM status: running") {
		t.Errorf("hmp info status: %q", out)
	}
	// A QMP error reply is the command's result, not a failure.
	out = mustVirsh(t, uri, `qemu-monitor-command m1 '{"execute":"no-such-command"}'`)
	if !strings.Contains(out, `"error":{"class":"CommandNotFound"`) {
		t.Errorf("unknown command: %q", out)
	}
	if info := mustVirsh(t, uri, "dominfo m1"); !strings.Contains(info, "Messages:       tainted: custom monitor control commands issued") {
		t.Errorf("dominfo lacks the taint:\n%s", info)
	}

	// Events: STOP after suspend, filtered by name; RESUME not shown.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "virsh", "-c", uri, "qemu-monitor-event", "m1", "--event", "stop", "--no-case", "--timeout", "30")
	var mu sync.Mutex
	var evOut bytes.Buffer
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return evOut.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let it register
	mustVirsh(t, uri, "suspend m1")
	if err := cmd.Wait(); err != nil {
		t.Errorf("qemu-monitor-event: %v", err)
	}
	mu.Lock()
	got := evOut.String()
	mu.Unlock()
	if !regexp.MustCompile(`event STOP at \d+\.\d{6} for domain 'm1': <null>`).MatchString(got) {
		t.Errorf("qemu-monitor-event output: %q", got)
	}
	mustVirsh(t, uri, "resume m1")

	// Regex filter with details.
	cmd = exec.CommandContext(ctx, "virsh", "-c", uri, "qemu-monitor-event", "--event", "^RES", "--regex", "--timeout", "30")
	evOut.Reset()
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return evOut.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	mustVirsh(t, uri, "reset m1")
	if err := cmd.Wait(); err != nil {
		t.Errorf("qemu-monitor-event --regex: %v", err)
	}
	mu.Lock()
	got = evOut.String()
	mu.Unlock()
	if !regexp.MustCompile(`event RESET at \d+\.\d{6} for domain 'm1': \{"guest":false,"reason":"host-qmp-system-reset"\}`).MatchString(got) {
		t.Errorf("qemu-monitor-event --regex output: %q", got)
	}

	// Read-only connections may do none of it.
	ro := "qemu+unix:///system?socket=" + d.SockRO
	if _, errOut, rc := virsh(t, ro, `qemu-monitor-command m1 '{"execute":"query-status"}'`); rc == 0 ||
		!strings.Contains(errOut, "read only access prevents virDomainQemuMonitorCommand") {
		t.Errorf("read-only monitor command: rc=%d %s", rc, errOut)
	}
	c := dialQEMU(t, d, true)
	if err := c.CallProg(context.Background(), 0x20008087, 1, 4, &struct {
		Dom   *struct{}
		Event *string
		Flags uint32
	}{}, nil); err == nil || !strings.Contains(err.Error(), "read only access prevents virConnectDomainQemuMonitorEventRegister") {
		t.Errorf("read-only event register: %v", err)
	}

	mustVirsh(t, uri, "destroy m1")
	if _, errOut, rc := virsh(t, uri, `qemu-monitor-command m1 '{"execute":"query-status"}'`); rc == 0 || !strings.Contains(errOut, "domain is not running") {
		t.Errorf("monitor command on a stopped guest: rc=%d %s", rc, errOut)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
