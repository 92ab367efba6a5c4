package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestCorpusNativeMatchesLibvirtd asks Debian's libvirtd 9.0 (started with
// ../shared/tools/libvirtd-baseline.sh, so root only) and govirtd for the
// command line of every libvirt corpus input (qemuxml2argvdata inputs
// with an x86_64-latest.args), with virsh domxml-to-native qemu-argv, and
// prints how many are the same once the daemons' own choices are
// normalised: descriptor numbers, the daemons' directories and the
// domain directory's name, the daemon's PATH. Unlike TestCorpusArgv this
// is libvirt on this host's QEMU 7.2 and configuration, not libvirt's
// test harness. An input neither identical nor refused by both with the
// same message must be listed in nativeKnown with its reason, else the
// test fails; with GOVIRT_NATIVE_OUT=DIR it writes DIR/summary.txt and
// DIR/NAME.diff.
//
//	GOVIRT_LIBVIRTD_COMPARE=1 go test ./integration -run TestCorpusNativeMatchesLibvirtd -v
func TestCorpusNativeMatchesLibvirtd(t *testing.T) {
	if os.Getenv("GOVIRT_LIBVIRTD_COMPARE") != "1" {
		t.Skip("set GOVIRT_LIBVIRTD_COMPARE=1 (needs root; starts Debian's libvirtd)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run libvirtd")
	}
	needTool(t, "virsh", "libvirt-clients")
	data := filepath.Join(corpusDataDir(t), "qemuxml2argvdata")
	startBaselineLibvirtd(t)
	d := startDaemon(t)
	argsFiles, _ := filepath.Glob(filepath.Join(data, "*.x86_64-latest.args"))
	if len(argsFiles) == 0 {
		t.Skip("no corpus inputs in " + data)
	}
	type result struct{ name, outcome, detail string }
	results := make([]result, len(argsFiles))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, af := range argsFiles {
		name := strings.TrimSuffix(filepath.Base(af), ".x86_64-latest.args")
		file := filepath.Join(data, name+".xml")
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			lv, lvErr := nativeArgv(t, "qemu:///system", file)
			gv, gvErr := nativeArgv(t, d.URI("qemu"), file)
			r := result{name: name}
			switch {
			case lvErr != "" && gvErr != "":
				r.outcome, r.detail = "both-refuse", "libvirtd: "+lvErr+"\ngovirtd:  "+gvErr
				if lvErr == gvErr {
					r.detail = "same: " + r.detail
				}
			case lvErr != "":
				r.outcome, r.detail = "libvirtd-refuses", "libvirtd: "+lvErr
			case gvErr != "":
				r.outcome, r.detail = "govirtd-refuses", "govirtd: "+gvErr
			default:
				a := normaliseNative(lv, libvirtdDirs)
				b := normaliseNative(gv, govirtdDirs(d))
				if a == b {
					r.outcome = "identical"
				} else {
					r.outcome, r.detail = "different", lineDiff(a, b)
				}
			}
			results[i] = r
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for i, r := range results {
		counts[r.outcome]++
		same := strings.HasPrefix(r.detail, "same: ")
		if same {
			counts["same-refusal"]++
		}
		why, listed := nativeKnown[r.name]
		switch {
		case r.outcome != "identical" && !same && !listed:
			t.Errorf("%s is %s and not in nativeKnown:\n%.600s", r.name, r.outcome, r.detail)
		case (r.outcome == "identical" || same) && listed:
			t.Logf("%s is %s now: drop it from nativeKnown", r.name, r.outcome)
		case listed:
			results[i].detail = "known: " + why + "\n" + r.detail
		}
	}
	both := len(results) - counts["both-refuse"] - counts["libvirtd-refuses"] - counts["govirtd-refuses"]
	summary := fmt.Sprintf("domxml-to-native on this host, libvirtd 9.0 vs govirtd: %d/%d identical (%.0f%%) of the inputs both accept; %d different; refused by both %d (%d with the same message), by libvirtd only %d, by govirtd only %d; %d inputs",
		counts["identical"], both, 100*float64(counts["identical"])/float64(max(both, 1)), counts["different"],
		counts["both-refuse"], counts["same-refusal"], counts["libvirtd-refuses"], counts["govirtd-refuses"], len(results))
	t.Log(summary)
	fmt.Println(summary)
	if out := os.Getenv("GOVIRT_NATIVE_OUT"); out != "" {
		os.MkdirAll(out, 0o755)
		sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
		var b strings.Builder
		b.WriteString(summary + "\n\n")
		for _, r := range results {
			first, _, _ := strings.Cut(r.detail, "\n")
			if r.outcome == "different" {
				first = ""
			}
			fmt.Fprintf(&b, "%-16s %s %s\n", r.outcome, r.name, first)
			if r.detail != "" {
				os.WriteFile(filepath.Join(out, r.name+".diff"), []byte(r.detail+"\n"), 0o644)
			}
		}
		os.WriteFile(filepath.Join(out, "summary.txt"), []byte(b.String()), 0o644)
	}
}

// corpusDataDir is libvirt 9.0's test data (GOVIRT_CONFORMANCE_DIR, or
// ../shared/conformance/libvirt-9.0.0 beside the worktree).
func corpusDataDir(t *testing.T) string {
	dir := os.Getenv("GOVIRT_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "conformance", "libvirt-9.0.0")
	}
	if _, err := os.Stat(filepath.Join(dir, "qemuxml2argvdata")); err != nil {
		t.Skipf("libvirt conformance data not found at %s (set GOVIRT_CONFORMANCE_DIR)", dir)
	}
	return dir
}

// startBaselineLibvirtd makes sure libvirtd answers on qemu:///system:
// one already running is used as it is; otherwise the baseline script
// starts it and stops it (by the pids it recorded) when the test ends.
func startBaselineLibvirtd(t *testing.T) {
	t.Helper()
	if exec.Command("virsh", "-q", "-c", "qemu:///system", "version").Run() == nil {
		return
	}
	script := os.Getenv("GOVIRT_LIBVIRTD_BASELINE")
	if script == "" {
		script = filepath.Join("..", "..", "shared", "tools", "libvirtd-baseline.sh")
	}
	if _, err := os.Stat(script); err != nil {
		t.Skipf("no %s (set GOVIRT_LIBVIRTD_BASELINE)", script)
	}
	out, err := exec.Command("bash", script, "start").CombinedOutput()
	if err != nil {
		t.Fatalf("%s start: %v\n%s", script, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "stop").CombinedOutput(); err != nil {
			t.Errorf("%s stop: %v\n%s", script, err, out)
		}
	})
}

// nativeArgv runs virsh domxml-to-native qemu-argv; the second result is
// the error virsh printed when the daemon refused.
func nativeArgv(t *testing.T, uri, file string) (string, string) {
	out, errOut, rc := virsh(t, uri, "domxml-to-native", "qemu-argv", file)
	if rc != 0 {
		return "", strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(errOut), "error: "))
	}
	return strings.TrimSpace(out), ""
}

// daemonDirs are a daemon's own directories, replaced by placeholders.
type daemonDirs struct{ state, run, log string }

var libvirtdDirs = daemonDirs{state: "/var/lib/libvirt/qemu", run: "/run/libvirt/qemu", log: "/var/log/libvirt/qemu"}

func govirtdDirs(d *daemon) daemonDirs {
	return daemonDirs{state: filepath.Join(d.dir, "state"), run: filepath.Join(d.dir, "run"), log: filepath.Join(d.dir, "state", "log")}
}

var (
	fdNumber   = regexp.MustCompile(`(fd=|fdset/|"fd":"?|set=|vhostfd=|vhostfds=)\d+`)
	secretData = regexp.MustCompile(`"data":"[^"]*","keyid":"masterKey0","iv":"[^"]*"`)
	vmgenid    = regexp.MustCompile(`("driver":"vmgenid","guid":")[0-9a-f-]{36}`)
	// A domain directory: the directory of the master key or the
	// monitor socket.
	domDirOf = regexp.MustCompile(`"file":"([^"]*)/master-key\.aes"|path=((?:[^,]|,,)*)/monitor\.sock`)
)

// normaliseNative takes one daemon's domxml-to-native line to the form
// compared, one shell word a line.
func normaliseNative(line string, dirs daemonDirs) string {
	words := shellWords(line)
	domDir := ""
	for _, w := range words {
		if m := domDirOf.FindStringSubmatch(w); m != nil {
			domDir = m[1] + strings.ReplaceAll(m[2], ",,", ",")
			break
		}
	}
	// The domain directory as named in JSON and, with its commas
	// doubled, in QEMU's option syntax; libvirtd also keeps the channel
	// sockets it names (guest agent, unnamed channels) in a directory of
	// the domain's own under its channel directory, which govirtd keeps
	// in the domain directory.
	var domDirs []string
	if domDir != "" {
		domDirs = append(domDirs, strings.ReplaceAll(domDir, ",", ",,"), domDir)
		chanDir := filepath.Join(dirs.state, "channel", "target", filepath.Base(domDir))
		domDirs = append(domDirs, strings.ReplaceAll(chanDir, ",", ",,"), chanDir)
	}
	var out []string
	for _, w := range words {
		if envOfDaemon.MatchString(w) {
			continue
		}
		for _, dd := range domDirs {
			w = strings.ReplaceAll(w, dd, "@DOMAIN_DIR@")
		}
		// qemu.conf's nvram_dir and memory_backing_dir are the same
		// defaults for both daemons.
		for _, r := range [][2]string{{"/var/lib/libvirt/qemu/nvram", "@NVRAM@"}, {"/var/lib/libvirt/qemu/ram", "@RAM@"}, {dirs.state, "@STATE@"}, {"/var/run/libvirt/qemu", "@RUN@"}, {dirs.run, "@RUN@"}, {dirs.log, "@LOG@"}} {
			w = strings.ReplaceAll(w, r[0], r[1])
		}
		// An input may name a file in libvirtd's directories itself
		// (serial-file-log's log): on govirtd's side too it is then
		// libvirtd's directory.
		for _, r := range [][2]string{{libvirtdDirs.state, "@STATE@"}, {libvirtdDirs.run, "@RUN@"}, {libvirtdDirs.log, "@LOG@"}} {
			w = strings.ReplaceAll(w, r[0], r[1])
		}
		w = fdNumber.ReplaceAllString(w, "${1}N")
		// A <genid/> without a value gets a random one at every build,
		// and secrets are encrypted with each daemon's random master
		// key and IV.
		w = vmgenid.ReplaceAllString(w, "${1}@GUID@")
		w = secretData.ReplaceAllString(w, `"data":"@SECRET@","keyid":"masterKey0","iv":"@IV@"`)
		out = append(out, w)
	}
	return strings.Join(out, "\n") + "\n"
}

// envOfDaemon are the variables a daemon passes from its own environment.
var envOfDaemon = regexp.MustCompile(`^(PATH|USER|LOGNAME)=`)

// shellWords splits a line of shell words, quoted as virsh prints them
// ('...' with '\” for a quote, or backslash escapes).
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\'' {
				quoted = false
			} else {
				cur.WriteByte(c)
			}
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// lineDiff lists the lines only one side has, in order (enough to read a
// command line's difference).
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	out.WriteString("--- libvirtd\n+++ govirtd\n")
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+" + bl[j] + "\n")
			j++
		default:
			out.WriteString("-" + al[i] + "\n")
			i++
		}
	}
	return out.String()
}
