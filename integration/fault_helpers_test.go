package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault-injection suite (issue 11) runs in a short form by default so
// that CI finishes it in minutes; GOVIRT_FAULT_OPS=N (make fault sets 300)
// selects the long form: N operations on 10 guests with daemon kills, and
// the 16-client, 20-guest, 60 s race run. GOVIRT_FAULT_SEED replays a run.

// jobModelFixed says whether the QEMU driver's job model rewrite (issue
// 11) is merged. Until it is, an invariant broken by one of the defects
// the issue lists skips the test with the symptom instead of failing CI;
// the lead sets it to true after merging the fixes.
const jobModelFixed = true

type faultScale struct {
	long           bool
	ops, guests    int
	clients        int
	stressGuests   int
	stressDuration time.Duration
}

func faultScaleFromEnv(t *testing.T) faultScale {
	t.Helper()
	if v := os.Getenv("GOVIRT_FAULT_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("GOVIRT_FAULT_OPS=%q: want a positive number", v)
		}
		return faultScale{long: true, ops: n, guests: 10, clients: 16, stressGuests: 20, stressDuration: 60 * time.Second}
	}
	return faultScale{ops: 30, guests: 3, clients: 8, stressGuests: 6, stressDuration: 15 * time.Second}
}

// faultRand is the seeded source of every random choice; the seed is
// logged so a failing run can be replayed.
func faultRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if v := os.Getenv("GOVIRT_FAULT_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("GOVIRT_FAULT_SEED=%q: %v", v, err)
		}
	}
	t.Logf("fault seed %d (GOVIRT_FAULT_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewSource(seed))
}

// knownDefect ends a test whose failure is one of issue 11's listed
// defects: skipped (with the symptom) until the job model rewrite is
// merged, a failure afterwards.
func knownDefect(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if jobModelFixed {
		t.Fatal(msg)
	}
	t.Skip("known failure on main before the job model rewrite: " + msg)
}

// runVirsh is virsh for goroutines other than the test's: it never calls
// t.Fatal. rc is -1 when virsh did not run or was killed at the timeout.
func runVirsh(uri string, timeout time.Duration, args ...string) (out string, rc int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "virsh", append([]string{"-c", uri}, args...)...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	cmd.Env = append(os.Environ(), "LC_ALL=C", "VIRSH_DEFAULT_CONNECT_URI=")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return b.String(), ee.ExitCode()
	} else if err != nil {
		return err.Error(), -1
	}
	return b.String(), 0
}

// qemuOf lists the live QEMU processes of daemon d by guest name. A QEMU
// belongs to d when its log (stderr) or command line is under d's
// directories; nothing else on the host is looked at, so QEMUs of other
// tests and users never count.
func qemuOf(d *daemon) map[string][]int {
	res := map[string][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !processAlive(pid) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		logf, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", pid))
		if !strings.HasPrefix(logf, d.dir+"/") && !strings.Contains(string(cmdline), d.dir+"/") {
			continue
		}
		name := ""
		for i, a := range args {
			if a == "-name" && i+1 < len(args) {
				name = strings.TrimPrefix(strings.SplitN(args[i+1], ",", 2)[0], "guest=")
			}
		}
		if name == "" {
			continue // not a QEMU (virsh, the daemon itself)
		}
		res[name] = append(res[name], pid)
	}
	for _, p := range res {
		sort.Ints(p)
	}
	return res
}

// statusPID is the pid a guest's status file names, 0 without one.
func statusPID(d *daemon, name string) int {
	data, err := os.ReadFile(filepath.Join(d.dir, "run", "qemu", name+".status.json"))
	if err != nil {
		return 0
	}
	var st struct {
		PID int `json:"pid"`
	}
	json.Unmarshal(data, &st)
	return st.PID
}

// listStates parses virsh list --all into name → state.
func listStates(t *testing.T, d *daemon) map[string]string {
	t.Helper()
	out, rc := runVirsh(d.URI("qemu"), 60*time.Second, "list", "--all")
	if rc != 0 {
		// Say whether the daemon comes back, and where it hangs if not.
		first := out
		for deadline := time.Now().Add(30 * time.Second); rc != 0 && time.Now().Before(deadline); {
			time.Sleep(time.Second)
			out, rc = runVirsh(d.URI("qemu"), 60*time.Second, "list", "--all")
		}
		diag := socketHolders(d)
		if rc != 0 {
			d.cmd.Process.Signal(syscall.SIGQUIT)
			time.Sleep(2 * time.Second)
		}
		t.Fatalf("virsh list --all: %s (then rc=%d %s); %s\n%s", first, rc, out, diag, d.Log())
	}
	res := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] == "Id" || strings.HasPrefix(f[0], "---") {
			continue
		}
		res[f[1]] = strings.Join(f[2:], " ")
	}
	return res
}

// qmpStatus asks a guest's QEMU for its run state through
// qemu-monitor-command: "running", "paused", ...
func qmpStatus(d *daemon, name string) (string, error) {
	out, rc := runVirsh(d.URI("qemu"), 60*time.Second, "qemu-monitor-command", name, `{"execute":"query-status"}`)
	if rc != 0 {
		return "", fmt.Errorf("qemu-monitor-command query-status: rc=%d %s", rc, strings.TrimSpace(out))
	}
	var r struct {
		Return struct {
			Status string `json:"status"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return "", fmt.Errorf("query-status reply %q: %v", out, err)
	}
	return r.Return.Status, nil
}

// invariants checks what issue 11 requires after every daemon restart,
// for the guests names (all persistent): each is listed with the state its
// QEMU really has, no QEMU of this daemon is unowned, no guest has two,
// and every definition and snapshot parses. It returns the violations.
func invariants(t *testing.T, d *daemon, names []string) []string {
	t.Helper()
	var bad []string
	states := listStates(t, d)
	procs := qemuOf(d)
	uri := d.URI("qemu")
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
		st, ok := states[n]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: not listed", n))
			continue
		}
		ps := procs[n]
		if len(ps) > 1 {
			bad = append(bad, fmt.Sprintf("%s: %d QEMUs %v", n, len(ps), ps))
		}
		switch st {
		case "running", "paused":
			if len(ps) == 0 {
				bad = append(bad, fmt.Sprintf("%s: listed %s but no QEMU runs", n, st))
				break
			}
			if sp := statusPID(d, n); sp != ps[0] {
				bad = append(bad, fmt.Sprintf("%s: status pid %d, QEMU is %v", n, sp, ps))
			}
			q, err := qmpStatus(d, n)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s (%s): %v", n, st, err))
			} else if (q == "running") != (st == "running") {
				bad = append(bad, fmt.Sprintf("%s: listed %s, QEMU says %s", n, st, q))
			}
			bad = append(bad, diskAgrees(d, n)...)
			// Paused for a job that the crash ended: libvirt's recovery
			// resumes a guest its save or migration paused. A guest
			// restored from a paused image is paused (migrating) too, as
			// in libvirt: QEMU's run state tells it from a migration left
			// paused (postmigrate) or half-received (inmigrate).
			if st == "paused" {
				out, _ := runVirsh(uri, 60*time.Second, "domstate", "--reason", n)
				for _, r := range []string{"(saving)", "(migrating)", "(dumping)", "(snapshot)"} {
					if r == "(migrating)" && q != "postmigrate" && q != "inmigrate" && q != "finish-migrate" {
						continue
					}
					if strings.Contains(out, r) {
						bad = append(bad, fmt.Sprintf("%s: %s after the restart: its interrupted job was not rolled back", n, strings.TrimSpace(out)))
					}
				}
			}
			// A save cut short by the crash may leave its image, as in
			// libvirt, but a later start must see it is incomplete and
			// boot (libvirt marks it partial until the save completes).
			if out, _ := runVirsh(uri, 60*time.Second, "dominfo", n); strings.Contains(out, "Managed save:   yes") {
				runVirsh(uri, 60*time.Second, "destroy", n)
				if o, rc := runVirsh(uri, 120*time.Second, "start", n); rc != 0 {
					bad = append(bad, fmt.Sprintf("%s: %s with the managed save image of an interrupted save; after destroy, start restores it and fails: %s",
						n, st, strings.Join(strings.Fields(o), " ")))
				}
			}
		case "shut off":
			if len(ps) > 0 {
				bad = append(bad, fmt.Sprintf("%s: shut off but QEMU %v runs (orphan)", n, ps))
			}
			if sp := statusPID(d, n); sp != 0 {
				bad = append(bad, fmt.Sprintf("%s: shut off but status file names pid %d (stale status)", n, sp))
			}
		default:
			bad = append(bad, fmt.Sprintf("%s: state %q", n, st))
		}
		if err := noJobLeft(d, n); err != nil {
			bad = append(bad, err.Error())
		}
		if out, rc := runVirsh(uri, 60*time.Second, "dumpxml", n); rc != 0 {
			bad = append(bad, fmt.Sprintf("%s: dumpxml: %s", n, strings.TrimSpace(out)))
		}
		out, rc := runVirsh(uri, 60*time.Second, "snapshot-list", n, "--name")
		if rc != 0 {
			bad = append(bad, fmt.Sprintf("%s: snapshot-list: %s", n, strings.TrimSpace(out)))
			continue
		}
		for _, s := range strings.Fields(out) {
			if o, rc := runVirsh(uri, 60*time.Second, "snapshot-dumpxml", n, s); rc != 0 {
				bad = append(bad, fmt.Sprintf("%s: snapshot-dumpxml %s: %s", n, s, strings.TrimSpace(o)))
			}
		}
	}
	for n, ps := range procs {
		if !known[n] {
			bad = append(bad, fmt.Sprintf("QEMU %v of unknown guest %q (orphan)", ps, n))
		}
	}
	return bad
}

// usable runs a follow-up that must work whatever the guest's state:
// suspend+resume when running, resume when paused, start when off.
func usable(d *daemon, name string) error {
	uri := d.URI("qemu")
	out, rc := runVirsh(uri, 60*time.Second, "domstate", name)
	if rc != 0 {
		return fmt.Errorf("domstate: %s", out)
	}
	var steps [][]string
	switch st := strings.TrimSpace(out); st {
	case "running":
		steps = [][]string{{"suspend", name}, {"resume", name}}
	case "paused":
		steps = [][]string{{"resume", name}}
	case "shut off":
		steps = [][]string{{"start", name}}
	default:
		return fmt.Errorf("state %q", st)
	}
	for _, s := range steps {
		if o, rc := runVirsh(uri, 60*time.Second, s...); rc != 0 {
			return fmt.Errorf("%s after %s: rc=%d %s", strings.Join(s, " "), strings.TrimSpace(out), rc, strings.TrimSpace(o))
		}
	}
	return nil
}

// killOwnQEMUs kills (by pid) every QEMU of d, at the end of a test.
func killOwnQEMUs(d *daemon) {
	for _, ps := range qemuOf(d) {
		for _, p := range ps {
			exec.Command("kill", "-9", strconv.Itoa(p)).Run()
		}
	}
}

// faultDiskGuest defines persistent guest name on a fresh qcow2 image in
// dir and returns its XML file.
func faultDiskGuest(t *testing.T, d *daemon, dir, name string) string {
	t.Helper()
	img := filepath.Join(dir, name+".qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "16M")
	// No VNC: autoport would race the other QEMUs on a shared host for
	// ports, a failure that is not the daemon's.
	doc := testGuestXML(t, name, "", fmt.Sprintf(`    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
`, img, filepath.Join(d.dir, name+".console")))
	path := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
	return path
}

// vdaSource is the file of disk vda in a domain XML.
func vdaSource(doc string) string {
	var dom struct {
		Disks []struct {
			Source struct {
				File string `xml:"file,attr"`
			} `xml:"source"`
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
		} `xml:"devices>disk"`
	}
	if xml.Unmarshal([]byte(doc), &dom) != nil {
		return ""
	}
	for _, d := range dom.Disks {
		if d.Target.Dev == "vda" {
			return d.Source.File
		}
	}
	return ""
}

// diskAgrees checks that the image QEMU writes for vda is the one the live
// and the persistent definitions name: a snapshot or a pivot cut short by
// a crash must not leave QEMU on an overlay the definitions do not know.
//
// A restarted daemon applies block jobs QEMU finished while it was down on
// the guest's worker, after it answers again: the check gives it a few
// seconds, as noJobLeft does for async jobs.
func diskAgrees(d *daemon, g string) []string {
	var bad []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if bad = diskAgreesNow(d, g); bad == nil || time.Now().After(deadline) {
			return bad
		}
	}
}

func diskAgreesNow(d *daemon, g string) []string {
	uri := d.URI("qemu")
	out, rc := runVirsh(uri, 60*time.Second, "qemu-monitor-command", g, `{"execute":"query-block"}`)
	if rc != 0 {
		return []string{fmt.Sprintf("%s: query-block: %s", g, strings.TrimSpace(out))}
	}
	var r struct {
		Return []struct {
			Qdev     string `json:"qdev"`
			Inserted *struct {
				File string `json:"file"`
			} `json:"inserted"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return []string{fmt.Sprintf("%s: query-block reply: %v", g, err)}
	}
	qemuFile := ""
	for _, b := range r.Return {
		if strings.Contains(b.Qdev, "virtio-disk0") && b.Inserted != nil {
			qemuFile = b.Inserted.File
		}
	}
	live, _ := runVirsh(uri, 60*time.Second, "dumpxml", g)
	inactive, _ := runVirsh(uri, 60*time.Second, "dumpxml", "--inactive", g)
	lf, pf := vdaSource(live), vdaSource(inactive)
	if qemuFile == lf && lf == pf {
		return nil
	}
	return []string{fmt.Sprintf("%s: QEMU writes vda to %q, the live XML names %q, the persistent %q", g, qemuFile, lf, pf)}
}

// noJobLeft checks that no async job stays in flight: a job interrupted
// by a crash is finished or rolled back by the restarted daemon (which
// gets a few seconds for it).
func noJobLeft(d *daemon, g string) error {
	var out string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		out, _ = runVirsh(d.URI("qemu"), 60*time.Second, "domjobinfo", g)
		if !strings.Contains(out, "Unbounded") && !strings.Contains(out, "Bounded") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: a job is still in flight: %s", g, strings.Join(strings.Fields(out), " "))
		}
	}
}
