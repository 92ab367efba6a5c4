package command

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/conf"
	"govirt/drivers/qemu/caps"
	"govirt/virerr"
)

// The corpus test is libvirt's qemuxml2argvtest over its own data: every
// qemuxml2argvdata input with a NAME.x86_64-latest.args is built with the
// capabilities of QEMU 8.0 replayed from caps_8.0.0.x86_64.replies and
// compared with libvirt's command line; every NAME.x86_64-latest.err
// input must be refused. libvirt's fake host (tests/testutilsqemu.c):
// libDir /tmp/lib, so the domain directory is /tmp/lib/domain--1-NAME; the
// monitor is passed as fd 1729; machine aliases are stripped from the
// capabilities so "pc" and "q35" stay as written.
//
// The counts may only go up: corpusFloor is what main achieves. Run with
// -corpus-out DIR to get every difference as DIR/NAME.diff (and
// DIR/summary.txt) while working on the builder.

// corpusFloor is the number of identical command lines main reaches.
const corpusFloor = 358

// corpusRefusedFloor is the number of .err inputs refused.
const corpusRefusedFloor = 57

var corpusOut = flag.String("corpus-out", "", "write per-input differences of the libvirt argv corpus here")

// corpusKnown lists every input that is not identical, with the reason;
// an input neither identical nor listed fails the test, and one listed
// but now identical is reported for removal.
var corpusKnown = map[string]string{
	"disk-scsi":                     "an ibmvscsi controller (spapr-vio reg=): a POWER device x86 QEMU lacks; refused",
	"disk-serial":                   "a disk on bus='sd': x86 QEMU has no SD bus; refused",
	"disk-source-pool":              "<source pool volume>: the QEMU driver does not yet translate storage pool volumes at start",
	"disk-source-pool-mode":         "<source pool volume mode>: the QEMU driver does not yet translate storage pool volumes at start",
	"luks-disks-source":             "LUKS volumes named by <source pool volume>: volume translation at start not implemented",
	"luks-disks-source-qcow2":       "LUKS volumes named by <source pool volume>: volume translation at start not implemented",
	"disk-transient":                "<transient/> disks (an overlay created at start and dropped at stop) not implemented",
	"disk-virtio-scsi-reservations": "persistent reservations need a managed qemu-pr-helper, not implemented",
	"user-aliases":                  "a smartcard on a CCID controller with a user alias: libvirt names its bus after the alias (ua-myCCID.0), govirt ccid0.0",
	"virtio-transitional":           "QEMU has no vhost-vsock-pci-transitional type (not in 8.0's type list, nor 7.2's); libvirt's argv names it anyway, govirt refuses it as the binary lacks it",
}

// confDir is the conformance data directory.
func confDir() string {
	if dir := os.Getenv("GOVIRT_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "..", "..", "shared", "conformance", "libvirt-9.0.0")
}

func corpusDir(t testing.TB) string {
	dir := os.Getenv("GOVIRT_CONFORMANCE_DIR")
	if dir == "" {
		// package dir is <root>/drivers/qemu/command
		dir = filepath.Join("..", "..", "..", "..", "shared", "conformance", "libvirt-9.0.0")
	}
	if _, err := os.Stat(filepath.Join(dir, "qemuxml2argvdata")); err != nil {
		t.Skipf("libvirt conformance data not found at %s (set GOVIRT_CONFORMANCE_DIR)", dir)
	}
	return dir
}

var latestCaps = sync.OnceValues(func() (*caps.Caps, error) {
	dir := os.Getenv("GOVIRT_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "conformance", "libvirt-9.0.0")
	}
	return caps.ReplayFile(filepath.Join(dir, "qemucapabilitiesdata", "caps_8.0.0.x86_64.replies"))
})

// testHostCaps is the capabilities as libvirt's tests see them: aliases
// stripped, so the machine type written in the input is what QEMU gets.
type testHostCaps struct{ *caps.Caps }

func (testHostCaps) MachineAlias(string) string { return "" }

// corpusPaths are libvirt's test host paths for a domain.
func corpusPaths(name string) Paths {
	// virDomainDefGetShortName: the id and at most 20 characters.
	short := []rune(name)
	if len(short) > 20 {
		short = short[:20]
	}
	dir := "/tmp/lib/domain--1-" + string(short)
	p := Paths{
		Name:          name,
		DomainDir:     dir,
		MonitorSocket: dir + "/monitor.sock",
		MonitorFD:     1729,
		MasterKey:     dir + "/master-key.aes",
		// testQemuPrepareHostBackendChardevOne's fake descriptors.
		HostFD: func(f HostFile, log bool) int {
			switch {
			case log:
				return 1751
			case f.Kind == UnixListen:
				return 1729
			}
			return 1750
		},
		Host: corpusHost,
		// qemuxml2argvtest points the swtpm socket at /dev/test and
		// mocks the passed descriptors from 1730 on.
		SwtpmSocket: "/dev/test",
		OpenFD: func() func(string, int) (int, error) {
			next := 1730
			return func(path string, _ int) (int, error) {
				// qemuxml2argvmock's qemuInterfaceVDPAConnect
				// returns 1732 for every vhost-vdpa device.
				if strings.HasPrefix(path, "/dev/vhost-vdpa") {
					return 1732, nil
				}
				// and virSCSIVHostOpenVhostSCSI's mock gives 3.
				if path == "/dev/vhost-scsi" {
					return 3, nil
				}
				next++
				return next - 1, nil
			}
		}(),
		// qemuxml2argvtest's descriptor groups (its ARG_FD_GROUP
		// arguments for disk-source-fd).
		FDGroup: func(name string) (FDGroup, error) {
			switch name {
			case "testgroup2":
				return FDGroup{FDs: []int{700, 705}}, nil
			case "testgroup5":
				return FDGroup{FDs: []int{704}}, nil
			case "testgroup6":
				return FDGroup{FDs: []int{777, 778}}, nil
			}
			return FDGroup{}, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "file descriptor group '%s' was not associated with the domain", name)
		},
		// qemuxml2argvtest marks only /dev/cdrom as a host CD-ROM.
		IsCDROM: func(path string) bool { return path == "/dev/cdrom" },
		// virrandommock's bytes 0, 1, 2, ... are the master key and
		// every IV.
		MasterKeyData: counting(32),
		RandomIV:      func() ([]byte, error) { return counting(16), nil },
		Secrets:       fakeSecretLookup,
		// libvirt's test gives the vsock descriptor 6789 and an
		// automatic CID 42 (qemuxml2argvtest.c).
		// qemuxml2argvmock: taps get descriptors 3, 4, ... and the name
		// vnet0 unless they are mytap0; vhost-net descriptors 44, 45, ...
		OpenTap: func(r TapRequest) (TapResult, error) {
			res := TapResult{IfName: "vnet0"}
			if r.IfName == "mytap0" {
				res.IfName = r.IfName
			}
			for i := 0; i < r.Queues; i++ {
				res.FDs = append(res.FDs, 3+i)
			}
			return res, nil
		},
		// virscsimock: every host SCSI device is /dev/sg0.
		SCSIGeneric: func(string) (string, error) { return "/dev/sg0", nil },
		// qemuxml2argvtest's passt directory (XDG_RUNTIME_DIR unset).
		PasstSocket: func(alias string) string {
			return "/bad-test-used-env-xdg-runtime-dir/libvirt/qemu/run/passt/-1-" + name + "-" + alias + ".socket"
		},
		OpenVhostNet: func(queues int) ([]int, error) {
			var fds []int
			for i := 0; i < queues; i++ {
				fds = append(fds, 44+i)
			}
			return fds, nil
		},
		OpenVsock: func(cid uint32, auto bool) (int, uint32, error) {
			if auto {
				cid = 42
			}
			return 6789, cid, nil
		},
		// qemuxml2argvtest's NBD TLS settings.
		Storage: StorageConfig{NBDTLSx509CertDir: "/etc/pki/libvirt-nbd/dummy,path",
			NBDTLSx509SecretUUID: "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea"},
		// The test's pretend start does not look at the images.
		SourceExists: func(string) bool { return true },
	}
	return p
}

// corpusChardevTLS sets the qemu.conf chardev TLS settings
// qemuxml2argvtest uses for an input (file name without extension).
func corpusChardevTLS(file string, p *Paths) {
	switch file {
	case "serial-tcp-tlsx509-chardev", "serial-tcp-tlsx509-chardev-notls":
		p.ChardevTLS = ChardevTLS{Default: true, Dir: "/etc/pki/libvirt-chardev"}
	case "serial-tcp-tlsx509-chardev-verify":
		p.ChardevTLS = ChardevTLS{Default: true, Dir: "/etc/pki/libvirt-chardev", Verify: true}
	case "serial-tcp-tlsx509-secret-chardev":
		p.ChardevTLS = ChardevTLS{Default: true, Dir: "/etc/pki/libvirt-chardev",
			SecretUUID: "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea"}
	}
}

// corpusHost is qemuxml2argvtest's fake host (qemuxml2argvmock.c and the
// driver config it sets up): 2M (default) and 1G hugetlbfs mounts,
// memory_backing_dir /var/lib/libvirt/qemu/ram, 4 KiB pages, host NUMA
// nodes 0-7, the clock at 1234567890, firmware descriptors from the test
// data.
var corpusHost = &Host{
	Hugepages: []Hugepages{
		{Dir: "/dev/hugepages2M", SizeKiB: 2048, Default: true},
		{Dir: "/dev/hugepages1G", SizeKiB: 1048576},
	},
	MemoryBackingDir: "/var/lib/libvirt/qemu/ram",
	PageSizeKiB:      4,
	NUMANode: func(n int) error {
		if n < 0 || n > 7 {
			return internalError("Mock: no numa node set is available at bit %d", n)
		}
		return nil
	},
	Now:           func() time.Time { return time.Unix(1234567890, 0) },
	SwtpmVersions: func() []string { return []string{"1.2", "2.0"} },
	NVRAMDir:      "/var/lib/libvirt/qemu/nvram",
	NewUUID:       func() string { return "00010203-0405-4607-8809-0a0b0c0d0e0f" },
	Firmware: func() ([]FirmwareDesc, error) {
		d := filepath.Join(confDir(), "qemufirmwaredata")
		descs, err := ReadFirmwareDirs(d+"/usr/share/qemu/firmware", d+"/etc/qemu/firmware")
		// The data set stores libvirt's symlinked descriptors as files
		// holding the link's target.
		for i, fd := range descs {
			if t := strings.TrimSpace(string(fd.Data)); !strings.HasPrefix(t, "{") {
				if data, err := os.ReadFile(filepath.Join(filepath.Dir(fd.Path), t)); err == nil {
					descs[i].Data = data
				}
			}
		}
		return descs, err
	},
	TPMCancelPath: func(string) (string, error) { return "/sys/class/misc/tpm0/device/cancel", nil },
}

// fakeSecretLookup is qemuxml2argvtest's secret driver: any UUID, and
// the usages its inputs name, have one fixed value.
func fakeSecretLookup(ref SecretRef) ([]byte, error) {
	if ref.UUID == "" {
		if ref.UsageType == "volume" {
			if !strings.HasPrefix(ref.Usage, "/storage/guest_disks/") {
				return nil, fmt.Errorf("test provided invalid volume storage prefix '%s'", ref.Usage)
			}
		} else if ref.Usage != "mycluster_myname" && ref.Usage != "client.admin secret" {
			return nil, fmt.Errorf("test provided incorrect usage '%s'", ref.Usage)
		}
	}
	return []byte(corpusSecret), nil
}

// envOfHost are the variables libvirt passes through from the daemon's
// own environment; the test host's values are not ours.
var envOfHost = regexp.MustCompile(`^(PATH|USER|LOGNAME)=`)

// normaliseArgs takes libvirt's .args text (or ours) to the form compared.
func normaliseArgs(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), " \\\n")
	var out []string
	for _, l := range lines {
		if envOfHost.MatchString(l) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + "\n"
}

type corpusResult struct {
	name    string
	outcome string // identical, different, refused, error-ok, error-accepted
	detail  string
}

// corpusErrHost are the .err inputs libvirt's test runs on a different
// fake host: tpm-emulator and tpm-emulator-tpm2 with an swtpm that only
// emulates the other TPM version (TEST_TPM_ENV_VAR).
var corpusErrHost = map[string]func(h Host) Host{
	"tpm-emulator":      func(h Host) Host { h.SwtpmVersions = func() []string { return []string{"2.0"} }; return h },
	"tpm-emulator-tpm2": func(h Host) Host { h.SwtpmVersions = func() []string { return []string{"1.2"} }; return h },
}

// corpusExtraFlags are the capabilities qemuxml2argvtest adds to QEMU
// 8.0's for an input (DO_TEST_CAPS_ARCH_LATEST_FULL with ARG_QEMU_CAPS).
var corpusExtraFlags = map[string][]string{
	"launch-security-sev-direct": {"sev-guest"},
}

// withFlags is c with extra capability flags.
type withFlags struct {
	Caps
	extra []string
}

func (w withFlags) Has(f string) bool { return contains(w.extra, f) || w.Caps.Has(f) }

func buildCorpusInput(t *testing.T, c Caps, file, name string) (string, error) {
	return buildCorpusInputOn(t, c, file, name, nil)
}

func buildCorpusInputOn(t *testing.T, c Caps, file, name string, host func(Host) Host) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	def, err := conf.ParseDomain(data, conf.ParseValidate)
	if err != nil {
		return "", err
	}
	def.Name = name
	if extra := corpusExtraFlags[strings.TrimSuffix(filepath.Base(file), ".xml")]; extra != nil {
		c = withFlags{c, extra}
	}
	p := corpusPaths(def.Name)
	if host != nil {
		h := host(*p.Host)
		p.Host = &h
	}
	corpusGraphics(strings.TrimSuffix(filepath.Base(file), ".xml"), &p)
	corpusChardevTLS(strings.TrimSuffix(filepath.Base(file), ".xml"), &p)
	cl, err := Build(def, c, p)
	if err != nil {
		return "", err
	}
	return formatArgs(cl), nil
}

func TestCorpusArgv(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	c := testHostCaps{cp}
	data := filepath.Join(dir, "qemuxml2argvdata")
	argsFiles, _ := filepath.Glob(filepath.Join(data, "*.x86_64-latest.args"))
	errFiles, _ := filepath.Glob(filepath.Join(data, "*.x86_64-latest.err"))
	var results []corpusResult
	counts := map[string]int{}
	for _, af := range argsFiles {
		name := strings.TrimSuffix(filepath.Base(af), ".x86_64-latest.args")
		want, _ := os.ReadFile(af)
		// git stores a symlink as a file holding its target's name.
		if t := strings.TrimSpace(string(want)); strings.HasSuffix(t, ".args") && !strings.ContainsAny(t, " \n") {
			if real, err := os.ReadFile(filepath.Join(filepath.Dir(af), t)); err == nil {
				want = real
			}
		}
		r := corpusResult{name: name}
		got, err := buildCorpusInput(t, c, filepath.Join(data, name+".xml"), domainName(filepath.Join(data, name+".xml")))
		switch {
		case err != nil:
			r.outcome, r.detail = "refused", err.Error()
		case normaliseArgs(got) == normaliseArgs(string(want)):
			r.outcome = "identical"
		default:
			r.outcome, r.detail = "different", unifiedDiff(normaliseArgs(string(want)), normaliseArgs(got))
			if why, ok := corpusKnown[name]; ok {
				r.detail = "known: " + why + "\n" + r.detail
			}
		}
		_, listed := corpusKnown[name]
		switch {
		case r.outcome != "identical" && !listed:
			t.Errorf("%s is %s and not in corpusKnown: %.300s", name, r.outcome, r.detail)
		case r.outcome == "identical" && listed:
			t.Logf("%s is identical now: drop it from corpusKnown", name)
		}
		counts[r.outcome]++
		results = append(results, r)
	}
	for _, ef := range errFiles {
		name := strings.TrimSuffix(filepath.Base(ef), ".x86_64-latest.err")
		want, _ := os.ReadFile(ef)
		r := corpusResult{name: name}
		_, err := buildCorpusInputOn(t, c, filepath.Join(data, name+".xml"), domainName(filepath.Join(data, name+".xml")), corpusErrHost[name])
		switch {
		case err == nil:
			r.outcome, r.detail = "error-accepted", "libvirt: "+string(want)
		case strings.TrimSpace(errMessage(err)) == strings.TrimSpace(string(want)):
			r.outcome = "error-same"
		default:
			r.outcome, r.detail = "error-other", "libvirt: "+strings.TrimSpace(string(want))+"\ngovirt:  "+err.Error()
		}
		counts[r.outcome]++
		results = append(results, r)
	}
	summary := fmt.Sprintf("libvirt argv corpus (x86_64-latest): %d identical, %d different, %d refused of %d; .err inputs: %d refused with libvirt's message, %d refused otherwise, %d accepted of %d",
		counts["identical"], counts["different"], counts["refused"], len(argsFiles),
		counts["error-same"], counts["error-other"], counts["error-accepted"], len(errFiles))
	t.Log(summary)
	fmt.Println(summary)
	if *corpusOut != "" {
		writeCorpusOut(t, *corpusOut, summary, results)
	}
	if counts["identical"] < corpusFloor {
		t.Errorf("identical command lines went down: %d < floor %d", counts["identical"], corpusFloor)
	}
	if n := counts["error-same"] + counts["error-other"]; n < corpusRefusedFloor {
		t.Errorf("refused .err inputs went down: %d < floor %d", n, corpusRefusedFloor)
	}
}

// domainName is the <name> of an input; libvirt's paths use it.
func domainName(file string) string {
	data, _ := os.ReadFile(file)
	m := regexp.MustCompile(`<name>([^<]*)</name>`).FindSubmatch(data)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// errMessage is the message part of a libvirt-style error, as libvirt's
// .err files hold it.
func errMessage(err error) string {
	type messager interface{ Message() string }
	var m messager
	if errors.As(err, &m) {
		return m.Message()
	}
	return err.Error()
}

func writeCorpusOut(t *testing.T, dir, summary string, results []corpusResult) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
	var b strings.Builder
	b.WriteString(summary + "\n\n")
	for _, r := range results {
		first := r.detail
		if i := strings.IndexByte(first, '\n'); i >= 0 && r.outcome != "different" {
			first = first[:i]
		}
		if r.outcome == "different" {
			first = ""
		}
		fmt.Fprintf(&b, "%-16s %s %s\n", r.outcome, r.name, first)
		if r.detail != "" {
			os.WriteFile(filepath.Join(dir, r.name+".diff"), []byte(r.detail+"\n"), 0o644)
		}
	}
	os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(b.String()), 0o644)
}

// unifiedDiff is a small line diff (longest common subsequence), enough
// to read what differs in a command line of a few dozen lines.
func unifiedDiff(want, got string) string {
	a := strings.Split(want, "\n")
	b := strings.Split(got, "\n")
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	out.WriteString("--- libvirt\n+++ govirt\n")
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+" + b[j] + "\n")
			j++
		default:
			out.WriteString("-" + a[i] + "\n")
			i++
		}
	}
	return out.String()
}
