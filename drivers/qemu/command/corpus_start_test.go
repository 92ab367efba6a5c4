package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/conf"
	"govirt/drivers/qemu/caps"
)

// TestCorpusStartsQEMU is the other half of TestCorpusArgv: the same
// libvirt inputs, built with the capabilities of this host's QEMU (7.2,
// probed for real), must start that QEMU. Every input that needs neither
// hardware nor an external server is started with its command line (-S:
// the guest never runs) after the host paths it names have been moved into
// a temporary directory and the files QEMU opens created there; QMP must
// then answer query-status with a paused guest. The input is refused,
// skipped for a counted reason, started, or failed; failures QEMU 7.2
// explains are listed in corpusStartKnown.

// corpusStartFloor is the number of inputs main starts; it may only go up.
const corpusStartFloor = 201

// corpusStartParallel bounds the QEMUs starting at once: the machine is
// small and shared.
const corpusStartParallel = 8

// corpusStartKnown are the inputs QEMU refuses for an understood reason
// that is not the builder's fault; they count as failed, with the reason.
var corpusStartKnown = map[string]string{
	// QEMU refuses libvirt's own command line for these inputs (the
	// .args libvirt's test expects has the same arguments).
	"disk-blockio":                    "an IDE disk at unit 2 (explicit drive address): QEMU refuses libvirt's argv too",
	"virtio-lun":                      "virtio-blk scsi=on needs legacy virtio, which a modern virtio-blk-pci lacks: QEMU refuses libvirt's argv too",
	"memory-hotplug-virtio-pmem":      "its device memory ends above this host's 40 physical address bits: a host limit",
	"disk-ide-split":                  "an IDE disk at unit 2 (explicit drive address): QEMU refuses libvirt's argv too",
	"disk-cdrom-bus-other":            "an empty USB CD-ROM is usb-storage without a drive: QEMU refuses libvirt's argv too",
	"disk-scsi-disk-split":            "two writable disks on one image: QEMU's image locking refuses libvirt's argv too",
	"q35-multifunction":               "slot 4 function 0 has multifunction='off' and a function 1: QEMU refuses libvirt's argv too",
	"memory-hotplug-nvdimm":           "maxMemory of 1 PiB exceeds the 40 physical address bits of the guest CPU: QEMU refuses libvirt's argv too",
	"memory-hotplug-nvdimm-access":    "maxMemory of 1 PiB exceeds the 40 physical address bits of the guest CPU: QEMU refuses libvirt's argv too",
	"memory-hotplug-nvdimm-align":     "maxMemory of 1 PiB exceeds the 40 physical address bits of the guest CPU: QEMU refuses libvirt's argv too",
	"memory-hotplug-nvdimm-label":     "maxMemory of 1 PiB exceeds the 40 physical address bits of the guest CPU: QEMU refuses libvirt's argv too",
	"memory-hotplug-nvdimm-pmem":      "maxMemory of 1 PiB exceeds the 40 physical address bits of the guest CPU: QEMU refuses libvirt's argv too",
	"memory-hotplug-nvdimm-readonly":  "maxMemory of 1 PiB exceeds the 40 physical address bits of the guest CPU: QEMU refuses libvirt's argv too",
	"virtio-options-controller-iommu": "iommu_platform on a transitional virtio device on conventional PCI: QEMU refuses libvirt's argv too",
	"virtio-options-disk-iommu":       "iommu_platform on a transitional virtio device on conventional PCI: QEMU refuses libvirt's argv too",
	"virtio-options-fs-iommu":         "iommu_platform on a transitional virtio device on conventional PCI: QEMU refuses libvirt's argv too",
	"virtio-options-memballoon-iommu": "iommu_platform on a transitional virtio device on conventional PCI: QEMU refuses libvirt's argv too",
	"virtio-options-net-iommu":        "iommu_platform on a transitional virtio device on conventional PCI: QEMU refuses libvirt's argv too",
	"virtio-options-rng-iommu":        "iommu_platform on a transitional virtio device on conventional PCI: QEMU refuses libvirt's argv too",
	"qemu-ns":                         "the input hands QEMU an option it does not have (<qemu:arg value='-unknown'/>)",
	"fs9p":                            "fsdriver 'handle' was removed from QEMU in 6.0; libvirt 9.0 emits it all the same",
	// This host.
	"hyperv":                  "this host's (nested) KVM does not let QEMU set Hyper-V VP_INDEX",
	"hyperv-stimer-direct":    "this host's (nested) KVM does not let QEMU set Hyper-V VP_INDEX",
	"video-virtio-vga-gpu-gl": "this host's QEMU lacks the virtio-gpu-gl module (qemu-system-gui is not installed)",
	// govirt: the CPU model translation of libvirt's cpu_map is not
	// implemented (TestCorpusArgv shows the same difference).
}

// hostRefusals are builder refusals that say what this host lacks (its
// configuration), not what govirt lacks: counted as skipped.
var hostRefusals = []struct {
	re     *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`NUMA node \d+ is unavailable`), "host NUMA nodes"},
	{regexp.MustCompile(`swtpm|TPM passthrough|TPM cancel`), "TPM"},
	{regexp.MustCompile(`Unable to find any firmware`), "no firmware descriptor of this host fits"},
	{regexp.MustCompile(`SEV launch security`), "SEV"},
	{regexp.MustCompile(`no SCSI generic node on this host`), "host device assignment"},
	{regexp.MustCompile(`vhost-user-gpu helper`), "vhost-user-gpu helper"},
	{regexp.MustCompile(`<vsock> is not supported .* here`), "vhost-vsock"},
}

var corpusStartOnly = flag.String("corpus-start-only", "", "start only the corpus inputs whose name matches this regexp")

// hostQEMUCaps probes this host's QEMU once per test run.
var hostQEMUCaps = sync.OnceValues(func() (*caps.Caps, error) {
	dir, err := os.MkdirTemp("", "gvcaps")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return caps.Probe(ctx, qemuBinary, dir)
})

type startOutcome struct {
	name    string
	outcome string // started, failed, known, skipped, refused
	reason  string // skip category or failure text
	args    string // the command line, when built
}

func TestCorpusStartsQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a few hundred QEMUs")
	}
	dir := corpusDir(t)
	if _, err := os.Stat(qemuBinary); err != nil {
		t.Skip("no " + qemuBinary)
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("no qemu-img")
	}
	t0 := time.Now()
	qc, err := hostQEMUCaps()
	if err != nil {
		t.Fatalf("probing %s: %v", qemuBinary, err)
	}
	t.Logf("probed %s in %v", qemuBinary, time.Since(t0).Round(time.Millisecond))
	tls, err := makeTestTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := startEnv{tls: tls, caps: qc, kvm: kvmUsable(), kvmSMM: kvmHasSMM(), tap: tapUsable(), audio: hostAudioDrivers()}
	data := filepath.Join(dir, "qemuxml2argvdata")
	argsFiles, _ := filepath.Glob(filepath.Join(data, "*.x86_64-latest.args"))
	results := make([]startOutcome, len(argsFiles))
	sem := make(chan struct{}, corpusStartParallel)
	var wg sync.WaitGroup
	var only *regexp.Regexp
	if *corpusStartOnly != "" {
		only = regexp.MustCompile(*corpusStartOnly)
	}
	for i, af := range argsFiles {
		name := strings.TrimSuffix(filepath.Base(af), ".x86_64-latest.args")
		if only != nil && !only.MatchString(name) {
			results[i] = startOutcome{name: name, outcome: "skipped", reason: "not selected"}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = env.startInput(filepath.Join(data, name+".xml"), name)
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	reasons := map[string]int{}
	for _, r := range results {
		counts[r.outcome]++
		switch r.outcome {
		case "skipped", "refused":
			reasons[r.outcome+": "+r.reason]++
		case "failed":
			t.Errorf("%s: QEMU 7.2 does not start it: %s", r.name, r.reason)
		case "known":
			t.Logf("%s: known failure: %s", r.name, r.reason)
		case "started":
			if why, ok := corpusStartKnown[r.name]; ok {
				t.Logf("%s starts now: drop it from corpusStartKnown (%s)", r.name, why)
			}
		}
	}
	summary := fmt.Sprintf("libvirt corpus on this host's QEMU: %d started, %d failed (%d known), %d skipped, %d refused by the builder, of %d (%v, QEMU CPU %v)",
		counts["started"], counts["failed"]+counts["known"], counts["known"], counts["skipped"], counts["refused"], len(argsFiles),
		time.Since(t0).Round(time.Second), time.Duration(qemuCPU.Load()).Round(time.Second))
	var rs []string
	for r, n := range reasons {
		rs = append(rs, fmt.Sprintf("%4d %s", n, r))
	}
	sort.Strings(rs)
	t.Log(summary + "\n" + strings.Join(rs, "\n"))
	fmt.Println(summary)
	if *corpusOut != "" {
		writeStartOut(t, *corpusOut, summary, results)
	}
	if only == nil && counts["started"] < corpusStartFloor {
		t.Errorf("started inputs went down: %d < floor %d", counts["started"], corpusStartFloor)
	}
}

func writeStartOut(t *testing.T, dir, summary string, results []startOutcome) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(summary + "\n\n")
	for _, r := range results {
		fmt.Fprintf(&b, "%-8s %s %s\n", r.outcome, r.name, strings.ReplaceAll(r.reason, "\n", " | "))
		if r.args != "" {
			os.WriteFile(filepath.Join(dir, r.name+".start-args"), []byte(r.args), 0o644)
		}
	}
	os.WriteFile(filepath.Join(dir, "start-summary.txt"), []byte(b.String()), 0o644)
}

// startEnv is what every input's start shares.
type startEnv struct {
	caps *caps.Caps
	kvm  bool // /dev/kvm can create a VM
	// kvmSMM is KVM's System Management Mode (KVM_CAP_X86_SMM).
	kvmSMM bool
	tap    bool // QEMU can create tap devices
	// audio are the audio drivers of the QEMU build.
	audio map[string]bool
	tls   testTLSDirs
}

// startInput builds one input for this host and starts it. A KVM guest
// needing what this host's KVM lacks (System Management Mode, for
// secure-boot firmware) runs under TCG, which emulates it.
func (e startEnv) startInput(file, name string) startOutcome {
	r, needTCG := e.startInputAs(file, name, false)
	if needTCG {
		r, _ = e.startInputAs(file, name, true)
	}
	return r
}

func (e startEnv) startInputAs(file, name string, tcg bool) (r startOutcome, needTCG bool) {
	r = startOutcome{name: name}
	tmp, err := os.MkdirTemp("", "gvs")
	if err != nil {
		r.outcome, r.reason = "failed", err.Error()
		return r, false
	}
	defer os.RemoveAll(tmp)
	in, err := os.ReadFile(file)
	if err != nil {
		r.outcome, r.reason = "failed", err.Error()
		return r, false
	}
	pm := &pathMap{dir: tmp, m: map[string]string{}}
	def, err := conf.ParseDomain([]byte(pm.rewriteXML(string(in))), conf.ParseValidate)
	if err != nil {
		r.outcome, r.reason = "refused", "parse: "+err.Error()
		return r, false
	}
	if tcg {
		def.Type = "qemu"
	}
	if why := e.prepareDef(def, name); why != "" {
		r.outcome, r.reason = "skipped", why
		return r, false
	}
	p := e.startPaths(name, def.Name, tmp)
	// A host CD-ROM drive is opened as one (host_cdrom); libvirt's
	// inputs name /dev/cdrom for it.
	p.IsCDROM = func(path string) bool { return pm.rev[path] == "/dev/cdrom" }
	// The images are created once the command line says their formats:
	// the moved ones are there for startupPolicy.
	p.SourceExists = func(path string) bool { return pm.moved(path) || exists(path) }
	files := &startFiles{pm: pm}
	p.HostFD, p.OpenFD = files.reserve, files.open
	defer files.close()
	cl, err := Build(def, e.caps, p)
	if err != nil {
		r.outcome, r.reason = "refused", refusalClass(err)
		if files.skip != "" {
			r.outcome, r.reason = "skipped", files.skip
		}
		for _, h := range hostRefusals {
			if h.re.MatchString(err.Error()) {
				r.outcome, r.reason = "skipped", h.reason
			}
		}
		return r, false
	}
	cl.Argv[0] = qemuBinary
	if def.Type == "kvm" && !e.kvmSMM && slices.ContainsFunc(cl.Argv, func(a string) bool { return strings.Contains(a, "smm=on") }) {
		return r, true
	}
	r.args = formatArgs(cl)
	if why := needsHostCmdline(cl, pm, e); why != "" {
		r.outcome, r.reason = "skipped", why
		return r, false
	}
	listeners, err := createHostFiles(cl, pm, p)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	if err == nil {
		err = files.openHost(cl.Files)
	}
	var skip skipReason
	if errors.As(err, &skip) {
		r.outcome, r.reason = "skipped", string(skip)
		return r, false
	}
	if err != nil {
		r.outcome, r.reason = "failed", "preparing files: "+err.Error()
		return r, false
	}
	if err := startPausedQEMU(cl, p.MonitorSocket, files.extra); err != nil {
		r.outcome, r.reason = "failed", err.Error()
		if why, ok := corpusStartKnown[name]; ok {
			r.outcome, r.reason = "known", why+": "+err.Error()
		}
		return r, false
	}
	r.outcome = "started"
	return r, false
}

// startFiles are the descriptors QEMU inherits, as the driver's
// passedFiles: extra[0] is the monitor (fd 3), the files the builder
// numbers follow.
type startFiles struct {
	pm    *pathMap
	extra []*os.File
	skip  string // why a file QEMU needs cannot be had here
}

func (f *startFiles) reserve(HostFile, bool) int {
	if len(f.extra) == 0 {
		f.extra = append(f.extra, nil)
	}
	f.extra = append(f.extra, nil)
	return 2 + len(f.extra)
}

// open is Paths.OpenFD: host devices are hardware this test does not use.
func (f *startFiles) open(path string, flag int) (int, error) {
	if !f.pm.moved(path) && !harmlessDev[path] {
		f.skip = "host device " + path
		return 0, fmt.Errorf("%s is the host's", path)
	}
	fd := f.reserve(HostFile{}, false)
	file, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return 0, err
	}
	f.extra[fd-3] = file
	return fd, nil
}

// openHost opens the files the builder numbered.
func (f *startFiles) openHost(hfs []HostFile) error {
	for _, hf := range hfs {
		if !f.pm.moved(hf.Path) && !harmlessDev[hf.Path] {
			return skipReason("host device " + hf.Path)
		}
		file, err := OpenHostFile(hf)
		if err != nil {
			return err
		}
		f.extra[hf.FD-3] = file
	}
	return nil
}

func (f *startFiles) close() {
	for _, file := range f.extra {
		if file != nil {
			file.Close()
		}
	}
}

// prepareDef adapts what the host decides rather than the input: KVM
// becomes TCG when /dev/kvm is unusable, tap names are made unique. It
// returns why the input cannot start here, or "".
func (e startEnv) prepareDef(def *conf.Domain, name string) string {
	if def.Type == "kvm" && !e.kvm {
		def.Type = "qemu"
	}
	for i, n := range def.Devices.Interfaces {
		switch n.Type {
		case "ethernet", "bridge", "network":
			if !e.tap {
				return "tap device"
			}
			// Tap names are host-wide (IFNAMSIZ 16): unique per run.
			n.TargetDev = fmt.Sprintf("gvs%d.%d", os.Getpid()%10000, tapSeq.Add(1)*8+int64(i))
		}
	}
	return ""
}

// startPaths are the host files of one start: everything in tmp, the
// monitor passed as fd 3, master key written, the real host's NUMA
// nodes, the display configuration of libvirt's test for input with
// certificates of our own and free ports.
func (e startEnv) startPaths(input, name, tmp string) Paths {
	dom := filepath.Join(tmp, "d")
	h := *corpusHost
	h.MemoryBackingDir = filepath.Join(tmp, "ram")
	h.NVRAMDir = filepath.Join(tmp, "nvram")
	h.Now = time.Now
	h.NewUUID = nil
	// The host's firmware and swtpm, not the test data's.
	h.Firmware = systemFirmware
	h.SwtpmVersions = caps.SwtpmVersions
	h.TPMCancelPath = nil
	h.NUMANode = func(n int) error {
		if _, err := os.Stat("/sys/devices/system/node/node" + strconv.Itoa(n)); err != nil {
			return unsupported("NUMA node %d is unavailable", n)
		}
		return nil
	}
	p := Paths{
		Name:          name,
		DomainDir:     dom,
		MonitorSocket: filepath.Join(tmp, "mon.sock"),
		MonitorFD:     3,
		MasterKey:     filepath.Join(dom, "master-key.aes"),
		Host:          &h,
		Secrets:       fakeSecretLookup,
	}
	corpusGraphics(input, &p)
	corpusChardevTLS(input, &p)
	if p.ChardevTLS.Default {
		p.ChardevTLS.Dir = e.tls.plain
		if p.ChardevTLS.SecretUUID != "" && e.tls.secret != "" {
			p.ChardevTLS.Dir = e.tls.secret
		}
	}
	p.VhostUserGPU = nil
	p.VNCPort, p.SpicePort, p.WebsocketPort = freeDisplayPort, freeDisplayPort, freeDisplayPort
	p.RenderNode = func() (string, error) { return "/dev/dri/renderD128", nil }
	g := &p.Graphics
	g.VNCTLSx509CertDir, g.SpiceTLSx509CertDir = e.tls.plain, e.tls.plain
	if g.VNCTLSx509SecretUUID != "" && e.tls.secret != "" {
		g.VNCTLSx509CertDir = e.tls.secret
	}
	return p
}

// refusalClass shortens a builder refusal to a reason worth counting.
func refusalClass(err error) string {
	s := strings.TrimSuffix(errMessage(err), " is not supported by govirt's QEMU driver")
	if len(s) > 110 {
		s = s[:110] + "…"
	}
	return s
}
