package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// Helpers of the client-shaped guest tests (qemu_shaped_test.go): what a
// running QEMU really set up, read over QMP through virsh, and libvirtd's
// command line for the same definition.

// libvirtdURI is Debian's libvirtd on this host, when it runs.
const libvirtdURI = "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock"

// libvirtdUp tells whether libvirtd answers on its socket.
func libvirtdUp() bool {
	c, err := net.DialTimeout("unix", "/var/run/libvirt/libvirt-sock", time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// qomGet reads one QOM property of a running guest's object.
func qomGet(t *testing.T, uri, dom, path, prop string) any {
	t.Helper()
	cmd := fmt.Sprintf(`{"execute":"qom-get","arguments":{"path":%q,"property":%q}}`, path, prop)
	out := mustVirsh(t, uri, "qemu-monitor-command "+dom+" '"+cmd+"'")
	var r struct{ Return any }
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("qom-get %s %s: %v: %s", path, prop, err, out)
	}
	return r.Return
}

// firstCPUPath is the QOM path of vCPU 0.
func firstCPUPath(t *testing.T, uri, dom string) string {
	t.Helper()
	var cpus struct {
		Return []struct {
			QOMPath string `json:"qom-path"`
			Index   int    `json:"cpu-index"`
		}
	}
	qmpJSON(t, uri, dom, "query-cpus-fast", &cpus)
	for _, c := range cpus.Return {
		if c.Index == 0 {
			return c.QOMPath
		}
	}
	t.Fatalf("no vCPU 0 in %+v", cpus)
	return ""
}

// hmp runs a human monitor command.
func hmp(t *testing.T, uri, dom, cmd string) string {
	t.Helper()
	return mustVirsh(t, uri, "qemu-monitor-command --hmp "+dom+" '"+cmd+"'")
}

// qemuArgv is the command line of the running QEMU of guest name, one
// argument an element.
func qemuArgv(t *testing.T, d *daemon, name string) []string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", guestPID(t, d, name)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// optionValues are the values of every occurrence of option in argv.
func optionValues(argv []string, option string) []string {
	var out []string
	for i, a := range argv {
		if a == option && i+1 < len(argv) {
			out = append(out, argv[i+1])
		}
	}
	return out
}

// hasOption tells whether argv has option with exactly value ("" for a
// flag without a value).
func hasOption(argv []string, option, value string) bool {
	for i, a := range argv {
		if a != option {
			continue
		}
		if value == "" || i+1 < len(argv) && argv[i+1] == value {
			return true
		}
	}
	return false
}

// sameOptionsAsLibvirtd compares, for the definition in file, the values
// of the given options on govirtd's and libvirtd's domxml-to-native
// command lines (normalised as the corpus comparison does). Without a
// libvirtd it does nothing.
func sameOptionsAsLibvirtd(t *testing.T, d *daemon, file string, options ...string) {
	t.Helper()
	if !libvirtdUp() {
		t.Log("libvirtd not reachable: command line not compared")
		return
	}
	lv, lvErr := nativeArgv(t, libvirtdURI, file)
	gv, gvErr := nativeArgv(t, d.URI("qemu"), file)
	if lvErr != "" || gvErr != "" {
		t.Errorf("domxml-to-native: libvirtd %q, govirtd %q", lvErr, gvErr)
		return
	}
	pick := func(line string, dirs daemonDirs) string {
		words := strings.Split(strings.TrimSpace(normaliseNative(line, dirs)), "\n")
		var b strings.Builder
		for i, w := range words {
			// libvirt's domxml-to-native replaces each NIC by a new
			// ethernet one (qemuConnectDomainXMLToNative), dropping its
			// alias, MTU and ROM: its NIC is not the one a start makes.
			if i > 0 && words[i-1] == "-device" && strings.Contains(w, `"netdev":`) {
				continue
			}
			for _, o := range options {
				if w == o {
					b.WriteString(w)
					if i+1 < len(words) && !strings.HasPrefix(words[i+1], "-") && !strings.Contains(words[i+1], `"netdev":`) {
						b.WriteString(" " + words[i+1])
					}
					b.WriteString("\n")
				}
			}
		}
		return b.String()
	}
	if a, b := pick(lv, libvirtdDirs), pick(gv, govirtdDirs(d)); a != b {
		t.Errorf("%v differ from libvirtd's:\n%s", options, lineDiff(a, b))
	}
}

// bootShell waits for the test guest's shell on a serial socket and
// returns the console.
func bootShell(t *testing.T, d *daemon, sock string) *testguest.Console {
	t.Helper()
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, d.Log())
	}
	return con
}

// guestRun runs a shell command in the test guest and returns its
// output joined on one line (the marker is split in the typed command so
// the terminal's echo of it does not match).
func guestRun(t *testing.T, con *testguest.Console, cmd string) string {
	t.Helper()
	con.Send(`echo "@@""R=$(` + cmd + ` 2>&1 | tr '\n' ' ')"`)
	m, err := con.ExpectRegexp(guestResult, 30*time.Second)
	if err != nil {
		out := con.Output()
		t.Fatalf("guest %q: %v; console:\n%q", cmd, err, out[max(0, len(out)-2000):])
	}
	return strings.TrimSpace(m[1])
}

var guestResult = regexp.MustCompile(`@@R=(.*)$`)

// waitFileHas waits for a file to contain substr.
func waitFileHas(t *testing.T, path, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(path); strings.Contains(string(data), substr) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	data, _ := os.ReadFile(path)
	t.Fatalf("%s lacks %q:\n%q", path, substr, data)
}
