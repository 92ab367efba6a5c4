package integration

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	record       = flag.Bool("record", false, "record virsh goldens from a running libvirtd (see README) instead of comparing")
	libvirtdSock = flag.String("libvirtd-socket", "/var/run/libvirt/libvirt-sock", "libvirtd socket used with -record")
)

// goldenCommands are the virsh command lines of
// shared/protocol/virsh-command-calls.txt; {files} is testdata/files.
// Goldens are named after the template, so they do not depend on where
// the checkout lives.
func goldenCommands(t *testing.T) (templates, cmds []string) {
	data, err := os.ReadFile("testdata/virsh-commands.txt")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Abs("testdata/files")
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		templates = append(templates, line)
		cmds = append(cmds, strings.ReplaceAll(line, "{files}", files))
	}
	return templates, cmds
}

func goldenName(cmd string) string {
	cmd = strings.ReplaceAll(cmd, string(filepath.Separator), "_")
	return regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(cmd, "_")
}

var (
	cpuTimeRe  = regexp.MustCompile(`(CPU time:\s+)[0-9.]+s`)
	vcpuTimeRe = regexp.MustCompile(`(?m)^(CPU time:\s+)[0-9.]+s$`)
	statTimeRe = regexp.MustCompile(`(?m)^(  (cpu\.time|cpu\.user|cpu\.system|vcpu\.\d+\.time)=)\d+$`)
	// The test driver derives block statistics from the wall clock.
	blkStatRe = regexp.MustCompile(`(?m)^(vda (rd_req|rd_bytes|wr_req|wr_bytes|errs)) \d+$`)
	// libvirt drops bridge= from a type='network' interface's <source>
	// outside status XML; govirt keeps what the user wrote (the test
	// driver's default domain has it), so that one attribute is masked.
	// Snapshot creation times are the wall clock.
	timestampRe = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}`)
	// So do its interface statistics.
	ifStatRe    = regexp.MustCompile(`(?m)^(\S+ (rx|tx)_(bytes|packets|errs|drop)) \d+$`)
	creationRe  = regexp.MustCompile(`<creationTime>\d+</creationTime>`)
	netBridgeRe = regexp.MustCompile(`(<source network='[^']*') bridge='[^']*'/>`)
)

// normalize masks what legitimately differs between two daemons: socket
// paths, the host name, the test driver's wall-clock CPU times and the
// testdata path.
func normalize(out, sock, files string) string {
	out = strings.ReplaceAll(out, sock, "<SOCKET>")
	out = strings.ReplaceAll(out, files, "<FILES>")
	if h, err := os.Hostname(); err == nil && h != "" {
		out = regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(h)+`$`).ReplaceAllString(out, "<HOSTNAME>")
	}
	out = cpuTimeRe.ReplaceAllString(out, "${1}<T>s")
	out = vcpuTimeRe.ReplaceAllString(out, "${1}<T>s")
	out = statTimeRe.ReplaceAllString(out, "${1}<T>")
	out = blkStatRe.ReplaceAllString(out, "${1} <N>")
	out = ifStatRe.ReplaceAllString(out, "${1} <N>")
	out = netBridgeRe.ReplaceAllString(out, "${1}/>")
	out = timestampRe.ReplaceAllString(out, "<TIME>")
	out = creationRe.ReplaceAllString(out, "<creationTime><T></creationTime>")
	return out
}

func runGolden(t *testing.T, sock, cmd string) string {
	files, _ := filepath.Abs("testdata/files")
	uri := "test+unix:///default?socket=" + sock
	stdout, stderr, rc := virshRetryHang(t, uri, cmd)
	return normalize(fmt.Sprintf("rc=%d\n--- stdout\n%s--- stderr\n%s", rc, stdout, stderr), sock, files)
}

// virshRetryHang runs virsh, and again when it hangs: virsh 9.0's save
// and dump (virshWatchJob) lose the worker's g_main_loop_quit when the
// call ends before the main thread enters its loop, which a daemon that
// answers at once hits on a loaded machine whatever it answers. A hung
// virsh is killed; its connection closing resets the test driver.
func virshRetryHang(t *testing.T, uri, cmd string) (string, string, int) {
	t.Helper()
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c := exec.CommandContext(ctx, "virsh", "-c", uri, cmd)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		c.Env = append(os.Environ(), "LC_ALL=C", "VIRSH_DEFAULT_CONNECT_URI=")
		err := c.Run()
		hung := ctx.Err() != nil
		cancel()
		if hung && try < 3 {
			t.Logf("virsh %q hung (virshWatchJob's race), running it again", cmd)
			continue
		}
		rc := 0
		if ee, ok := err.(*exec.ExitError); ok {
			rc = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("virsh %q: %v", cmd, err)
		}
		return out.String(), errb.String(), rc
	}
}

// TestVirshGolden runs every virsh command of the protocol notes against
// govirtd's test driver and compares the output with libvirtd 9.0's.
func TestVirshGolden(t *testing.T) {
	templates, cmds := goldenCommands(t)
	// The *-edit commands run this editor, which adds a newline, so the
	// object is redefined; save, dump and download write under
	// /tmp/gvgolden.
	files, _ := filepath.Abs("testdata/files")
	t.Setenv("EDITOR", filepath.Join(files, "cov-editor.sh"))
	t.Setenv("VISUAL", filepath.Join(files, "cov-editor.sh"))
	if err := os.MkdirAll("/tmp/gvgolden", 0o755); err != nil {
		t.Fatal(err)
	}
	if *record {
		for i, cmd := range cmds {
			got := runGolden(t, *libvirtdSock, cmd)
			if err := os.WriteFile(filepath.Join("testdata/virsh", goldenName(templates[i])+".golden"), []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	d := startDaemon(t)
	for i, cmd := range cmds {
		name := goldenName(templates[i])
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata/virsh", name+".golden"))
			if err != nil {
				t.Fatalf("no golden (record with -record): %v", err)
			}
			if known, ok := knownDifferences[templates[i]]; ok {
				t.Skipf("known difference from libvirtd: %s", known)
			}
			if why, ok := goldenPending(templates[i]); ok {
				t.Skipf("pending: %s", why)
			}
			got := runGolden(t, d.Socket, cmd)
			if got != string(want) {
				t.Errorf("virsh %q differs from libvirtd 9.0\n--- govirtd\n%s\n--- libvirtd\n%s", cmd, got, want)
			}
		})
	}
}

// knownDifferences lists commands whose output may differ from libvirtd's,
// with the reason. Keep it short and honest.
var knownDifferences = map[string]string{
	"secret-list": "libvirt's test driver has no secrets driver and fails; govirtd returns an empty list, as issue 3 asks",
	// govirt's test driver goes beyond libvirt's on purpose
	// (drivers/test/devices.go, vol_data.go): libvirtd answers these
	// with VIR_ERR_NO_SUPPORT.
	"attach-device test {files}/cov-disk.xml":                                                     testDriverExtension,
	"detach-interface test network --mac aa:bb:cc:dd:ee:ff":                                       testDriverExtension,
	"domif-setlink test aa:bb:cc:dd:ee:ff down":                                                   testDriverExtension,
	"vol-create-as default-pool covvol 1M; vol-wipe covvol --pool default-pool":                   testDriverExtension,
	"vol-create-as default-pool covvol 1M; vol-resize covvol 2M --pool default-pool":              testDriverExtension,
	"vol-create-as default-pool covvol 1M; vol-upload covvol {files}/dom.xml --pool default-pool": testDriverExtension,
}

const testDriverExtension = "govirt's test driver changes devices and volume data, which libvirt's test driver refuses as not supported"

// goldenPending names the command families another helper is adding to
// the test driver now; their goldens are recorded and skipped until then.
// None is pending today.
func goldenPending(cmd string) (string, bool) {
	return "", false
}
