package postparse

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/drivers/qemu/caps"
)

// yardstickFloor is the number of libvirt qemuxml2xml outputs Apply must
// reproduce exactly; raise it as coverage grows, never lower it.
const yardstickFloor = 136

// testHost is libvirt's fake test host for "latest" capabilities
// (testutilsqemu.c): machine aliases are stripped, so "q35" and "pc" stay
// as written instead of becoming the versioned machine.
type testHost struct{ *caps.Caps }

func (testHost) MachineAlias(string) string { return "" }

func conformanceDir(t testing.TB) string {
	dir := os.Getenv("GOVIRT_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "conformance", "libvirt-9.0.0")
	}
	if _, err := os.Stat(filepath.Join(dir, "qemuxml2xmloutdata")); err != nil {
		t.Skipf("libvirt conformance data not found at %s (set GOVIRT_CONFORMANCE_DIR)", dir)
	}
	return dir
}

// resolveLink follows the git symlinks that were unpacked as small text
// files naming their target.
func resolveLink(path string) string {
	for hop := 0; hop < 8; hop++ {
		data, err := os.ReadFile(path)
		if err != nil {
			return path
		}
		s := strings.TrimSpace(string(data))
		if len(data) >= 256 || strings.Contains(s, "<") || s == "" {
			return path
		}
		path = filepath.Join(filepath.Dir(path), s)
	}
	return path
}

// normalise drops indentation and blank lines: the comparison is about
// content, not layout.
func normalise(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type yardCase struct{ name, in, out string }

// yardCases lists the inputs libvirt's qemuxml2xmltest runs with the
// latest x86_64 capabilities, with the inactive output it expects.
func yardCases(t testing.TB, dir string) []yardCase {
	outs, _ := filepath.Glob(filepath.Join(dir, "qemuxml2xmloutdata", "*.x86_64-latest.xml"))
	var cs []yardCase
	for _, o := range outs {
		name := strings.TrimSuffix(filepath.Base(o), ".x86_64-latest.xml")
		if strings.HasSuffix(name, "-active") {
			continue
		}
		if base, ok := strings.CutSuffix(name, "-inactive"); ok {
			name = base
		} else if _, err := os.Stat(filepath.Join(dir, "qemuxml2xmloutdata", name+"-inactive.x86_64-latest.xml")); err == nil {
			continue
		}
		in := filepath.Join(dir, "qemuxml2argvdata", name+".xml")
		if _, err := os.Stat(in); err != nil {
			continue
		}
		cs = append(cs, yardCase{name, resolveLink(in), resolveLink(o)})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs
}

// runCase returns "" when the output is libvirt's, "refused: ..." when
// parsing or Apply failed, and a diff otherwise.
func runCase(c yardCase, host Caps) (res string) {
	defer func() {
		if p := recover(); p != nil {
			res = fmt.Sprintf("refused: panic %v", p)
		}
	}()
	in, err := os.ReadFile(c.in)
	if err != nil {
		return "refused: " + err.Error()
	}
	want, err := os.ReadFile(c.out)
	if err != nil {
		return "refused: " + err.Error()
	}
	def, err := conf.ParseDomain(in, 0)
	if err != nil {
		return "refused: parse: " + err.Error()
	}
	if err := ApplyWith(def, host, yardOptions(c.name)); err != nil {
		return "refused: " + err.Error()
	}
	got, err := def.Format(conf.FormatInactive | conf.FormatSecure)
	if err != nil {
		return "refused: format: " + err.Error()
	}
	g, w := normalise(got), normalise(want)
	if g == w {
		return ""
	}
	if d := os.Getenv("GOVIRT_YARDSTICK_DUMP"); d != "" {
		os.WriteFile(filepath.Join(d, c.name+".got"), []byte(g+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, c.name+".want"), []byte(w+"\n"), 0o644)
	}
	return firstDiff(g, w)
}

// firstDiff shows where got first departs from want.
func firstDiff(got, want string) string {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			return fmt.Sprintf("line %d:\n  got:  %s\n  want: %s", i+1, g, w)
		}
	}
	return "?"
}

func replayHost(t testing.TB, dir string) Caps {
	c, err := caps.ReplayFile(filepath.Join(dir, "qemucapabilitiesdata", "caps_8.0.0.x86_64.replies"))
	if err != nil {
		t.Fatal(err)
	}
	return testHost{c}
}

// TestYardstick compares Apply's result with libvirt's qemuxml2xml
// outputs. Set GOVIRT_YARDSTICK_VERBOSE=1 to see every difference.
func TestYardstick(t *testing.T) {
	dir := conformanceDir(t)
	host := replayHost(t, dir)
	var same, diff, refused int
	verbose := os.Getenv("GOVIRT_YARDSTICK_VERBOSE") != ""
	for _, c := range yardCases(t, dir) {
		r := runCase(c, host)
		switch {
		case r == "":
			same++
			if verbose {
				t.Logf("%s: identical", c.name)
			}
		case strings.HasPrefix(r, "refused: "):
			refused++
			if verbose {
				t.Logf("%s: %s", c.name, r)
			}
		default:
			diff++
			if verbose {
				t.Logf("%s: %s", c.name, r)
			}
		}
	}
	line := fmt.Sprintf("%d identical, %d different, %d refused", same, diff, refused)
	t.Log(line)
	fmt.Println(line)
	if same < yardstickFloor {
		t.Errorf("only %d outputs identical to libvirt's, the floor is %d", same, yardstickFloor)
	}
}

// TestApplyNeverPanics runs Apply over every domain input of libvirt's
// argv tests: whatever it cannot handle must come back as an error.
func TestApplyNeverPanics(t *testing.T) {
	dir := conformanceDir(t)
	host := replayHost(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "qemuxml2argvdata", "*.xml"))
	var applied, refused int
	for _, f := range files {
		in, err := os.ReadFile(resolveLink(f))
		if err != nil {
			continue
		}
		def, err := conf.ParseDomain(in, 0)
		if err != nil {
			continue
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic %v", filepath.Base(f), p)
				}
			}()
			if err := Apply(def, host); err != nil {
				refused++
				return
			}
			applied++
			// Applying again at start changes nothing.
			first, _ := def.Format(conf.FormatInactive)
			if err := ApplyAtStart(def, host, Options{}); err != nil {
				t.Errorf("%s: second Apply fails: %v", filepath.Base(f), err)
			}
			second, _ := def.Format(conf.FormatInactive)
			if string(first) != string(second) {
				t.Errorf("%s: Apply is not idempotent", filepath.Base(f))
			}
		}()
	}
	t.Logf("%d inputs applied, %d refused", applied, refused)
}

// yardOptions are the host audio settings qemuxml2xmltest sets around
// single inputs (its environment and qemu.conf switches).
func yardOptions(name string) Options {
	switch name {
	case "audio-default-sdl":
		return Options{Audio: Audio{DriverEnv: "sdl", SDLDriverEnv: "esd"}}
	case "audio-default-vnc":
		return Options{Audio: Audio{DriverEnv: "alsa", VNCAllowHostAudio: true}}
	case "audio-default-nographics":
		return Options{Audio: Audio{DriverEnv: "alsa", NogfxAllowHostAudio: true}}
	}
	return Options{}
}
