package command

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
)

// The host side of TestCorpusStartsQEMU: moving the host paths an input
// names into the run's temporary directory, creating what QEMU opens
// there, and telling what an input needs that this host cannot give.

// tapSeq numbers the tap devices of parallel starts.
var tapSeq atomic.Int64

// pathMap moves every absolute host path of an input into dir. Device
// nodes stay where they are: they are the host's hardware (or, for a few,
// harmless: /dev/null, /dev/urandom). Each path gets a short name of its
// own, so that socket paths stay within the 108 bytes of sun_path.
type pathMap struct {
	dir string
	m   map[string]string // original -> moved
	rev map[string]string // moved -> original
}

var (
	xmlAttrPath = regexp.MustCompile(`(\s[A-Za-z_][-\w.:]*\s*=\s*)(?:'(/[^'<>]*)'|"(/[^"<>]*)")`)
	xmlTextPath = regexp.MustCompile(`<([A-Za-z_][-\w.:]*)((?:\s[^>]*)?)>(/[^<]*)</`)
)

var (
	xmlDisk        = regexp.MustCompile(`(?s)<disk\b.*?</disk>`)
	xmlDevAttr     = regexp.MustCompile(`(\sdev=)(?:'(/dev/[^']*)'|"(/dev/[^"]*)")`)
	xmlGraphics    = regexp.MustCompile(`<graphics\b[^>]*>`)
	xmlGraphicsAll = regexp.MustCompile(`(?s)<graphics\b.*?(?:/>|</graphics>)`)
	xmlListenAddr  = regexp.MustCompile(`(\s(?:listen|address)=)(?:'([^']*)'|"([^"]*)")`)
	xmlGraphicPort = regexp.MustCompile(`(\s(?:port|tlsPort|websocket)=)(?:'([1-9][0-9]*)'|"([1-9][0-9]*)")`)
)

// rewriteXML moves the paths of attribute values and element texts that
// are absolute paths; <emulator> stays (the test runs the host's QEMU).
// The host block devices of disks are moved too: the test gives QEMU a
// device node of its own there. Fixed display ports become free ones.
func (pm *pathMap) rewriteXML(s string) string {
	s = xmlDisk.ReplaceAllStringFunc(s, func(d string) string {
		return xmlDevAttr.ReplaceAllStringFunc(d, func(m string) string {
			sm := xmlDevAttr.FindStringSubmatch(m)
			p := sm[2] + sm[3]
			if harmlessDev[p] {
				return m
			}
			return sm[1] + "'" + pm.moveAny(p) + "'"
		})
	})
	s = xmlGraphicsAll.ReplaceAllStringFunc(s, func(g string) string {
		return xmlListenAddr.ReplaceAllStringFunc(g, func(m string) string {
			sm := xmlListenAddr.FindStringSubmatch(m)
			return sm[1] + "'" + localAddr(sm[2]+sm[3]) + "'"
		})
	})
	s = xmlGraphics.ReplaceAllStringFunc(s, func(g string) string {
		return xmlGraphicPort.ReplaceAllStringFunc(g, func(m string) string {
			sm := xmlGraphicPort.FindStringSubmatch(m)
			port, err := freeDisplayPort()
			if err != nil {
				return m
			}
			return fmt.Sprintf("%s'%d'", sm[1], port)
		})
	})
	s = xmlAttrPath.ReplaceAllStringFunc(s, func(m string) string {
		sm := xmlAttrPath.FindStringSubmatch(m)
		if strings.TrimSpace(strings.TrimRight(sm[1], "= ")) == "usage" {
			// A secret's usage names a volume, not a host file.
			return m
		}
		p, q := sm[2], "'"
		if p == "" {
			p, q = sm[3], `"`
		}
		return sm[1] + q + pm.move(p) + q
	})
	return xmlTextPath.ReplaceAllStringFunc(s, func(m string) string {
		sm := xmlTextPath.FindStringSubmatch(m)
		if sm[1] == "emulator" {
			return m
		}
		return "<" + sm[1] + sm[2] + ">" + pm.move(sm[3]) + "</"
	})
}

// localAddr is addr when this host can listen there, else the loopback
// address of its family: the address is the host's, not the input's.
func localAddr(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if l, err := net.Listen("tcp", net.JoinHostPort(addr, "0")); err == nil {
		l.Close()
		return addr
	}
	if ip.To4() != nil {
		return "127.0.0.1"
	}
	return "::1"
}

func (pm *pathMap) move(p string) string {
	if strings.HasPrefix(p, "/dev/") && !strings.HasPrefix(p, "/dev/shm/") {
		return p
	}
	return pm.moveAny(p)
}

func (pm *pathMap) moveAny(p string) string {
	if q, ok := pm.m[p]; ok {
		return q
	}
	base := filepath.Base(p)
	if len(base) > 24 {
		base = base[len(base)-24:]
	}
	q := fmt.Sprintf("%s/%d-%s", pm.dir, len(pm.m), base)
	if strings.HasSuffix(p, "/") {
		q += "/"
	}
	pm.m[p] = q
	if pm.rev == nil {
		pm.rev = map[string]string{}
	}
	pm.rev[q] = p
	return q
}

// kvmHasSMM reports whether this host's KVM emulates System Management
// Mode (KVM_CHECK_EXTENSION of KVM_CAP_X86_SMM); nested KVM may not.
func kvmHasSMM() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	const kvmCheckExtension, kvmCapX86SMM = 0xAE03, 117
	r, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCheckExtension, kvmCapX86SMM)
	return errno == 0 && r > 0
}

// harmlessDev are device nodes QEMU may open on any host.
var harmlessDev = map[string]bool{
	"/dev/null": true, "/dev/zero": true, "/dev/random": true, "/dev/urandom": true,
	"/dev/ptmx": true, "/dev/net/tun": true, "/dev/kvm": true,
}

var devPath = regexp.MustCompile(`/dev/[^,"\s:]*`)

// needsHostCmdline tells why cl cannot start on this host, or "".
func needsHostCmdline(cl *Cmdline, pm *pathMap, e startEnv) string {
	switch {
	case cl.Swtpm != nil:
		return "TPM"
	case len(cl.VirtioFS) > 0:
		return "virtiofsd"
	case len(cl.HostPCI) > 0:
		return "host device assignment"
	}
	for _, f := range cl.Files {
		if !pm.moved(f.Path) && !harmlessDev[f.Path] {
			return "host device " + f.Path
		}
	}
	return needsHost(cl.Argv, e)
}

// needsHost tells why argv cannot start on this host (hardware, external
// servers, host resources), or "".
func needsHost(argv []string, e startEnv) string {
	for i := 1; i < len(argv); i++ {
		opt, val := argv[i], ""
		if i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
			val = argv[i+1]
			i++
		}
		if opt == "-append" {
			continue
		}
		if why := needsHostOpt(opt, val, e); why != "" {
			return why
		}
	}
	return ""
}

func needsHostOpt(opt, val string, e startEnv) string {
	switch {
	case strings.Contains(val, "/dev/hugepages"):
		return "hugepages"
	case strings.Contains(val, "vfio") || strings.Contains(val, "usb-host") || strings.Contains(val, "pci-assign") ||
		strings.Contains(val, "vhost-scsi") || strings.Contains(val, `"scsi-block"`) || strings.Contains(val, `"scsi-generic"`):
		return "host device assignment"
	case opt == "-tpmdev" || strings.Contains(val, "tpm-"):
		return "TPM"
	case strings.Contains(val, "vhost-user") || strings.Contains(val, "vhost-vdpa"):
		return "vhost-user/vDPA backend"
	case strings.Contains(val, "tls-creds-x509") && !strings.Contains(val, `"dir":"`+e.tls.plain+`"`) &&
		(e.tls.secret == "" || !strings.Contains(val, `"dir":"`+e.tls.secret+`"`)):
		return "TLS certificates"
	case opt == "-blockdev" && networkBlockdev(val) != "":
		return "network disk (" + networkBlockdev(val) + ")"
	case opt == "-netdev" && (strings.Contains(val, "connect=") || strings.Contains(val, "vhost=on") && !exists("/dev/vhost-net")):
		if strings.Contains(val, "connect=") {
			return "network server"
		}
		return "vhost-net"
	case opt == "-chardev" && strings.HasPrefix(val, "socket,") && strings.Contains(val, "host=") && !strings.Contains(val, "server=on"):
		return "network server"
	case opt == "-spice" && !e.caps.Has("spice"):
		return "SPICE"
	case opt == "-display" && (strings.HasPrefix(val, "sdl") || strings.HasPrefix(val, "gtk")) && os.Getenv("DISPLAY") == "":
		return "X display"
	case opt == "-audiodev":
		drv := splitOpts(val)["driver"]
		var o struct{ Driver string }
		if json.Unmarshal([]byte(val), &o) == nil {
			drv = o.Driver
		}
		if !e.audio[drv] {
			return "audio driver " + drv + " not in this QEMU build"
		}
		if drv == "oss" && !exists("/dev/dsp") {
			return "host device /dev/dsp (oss)"
		}
	case opt == "-blockdev" && strings.Contains(val, `"driver":"host_device"`) && strings.Contains(val, `"direct":true`):
		// The stand-in device node (/dev/null's) has no O_DIRECT.
		return "O_DIRECT on a host block device"
	}
	for _, d := range devPath.FindAllString(val, -1) {
		// /dev/fdset/N is a descriptor QEMU was given (-add-fd).
		if !harmlessDev[d] && !strings.HasPrefix(d, "/dev/fdset/") {
			return "host device " + d
		}
	}
	return ""
}

// hostAudioDrivers are the -audiodev drivers this QEMU build has (its
// modules installed).
func hostAudioDrivers() map[string]bool {
	out, _ := exec.Command(qemuBinary, "-audiodev", "help").CombinedOutput()
	m := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.ContainsAny(l, " :") {
			m[l] = true
		}
	}
	return m
}

// networkBlockdev is the protocol of a -blockdev that needs a server.
func networkBlockdev(val string) string {
	var o struct{ Driver string }
	if json.Unmarshal([]byte(val), &o) != nil {
		return ""
	}
	switch o.Driver {
	case "nbd", "iscsi", "rbd", "gluster", "sheepdog", "http", "https", "ftp", "ftps", "ssh", "nfs", "nvme", "tftp":
		return o.Driver
	}
	return ""
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// createHostFiles creates, in the run's directory, what QEMU opens: disk
// images in their format, kernel and initrd, firmware, directories of
// shared file systems, the master key, FIFOs of pipe character devices,
// the parent directory of every socket and log.
func createHostFiles(cl *Cmdline, pm *pathMap, p Paths) ([]net.Listener, error) {
	argv := cl.Argv
	for _, d := range append([]string{p.DomainDir, p.Host.MemoryBackingDir, p.Host.NVRAMDir}, cl.MemoryDirs...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if p.MasterKey != "" {
		if err := os.WriteFile(p.MasterKey, p.MasterKeyData, 0o600); err != nil {
			return nil, err
		}
	}
	for _, w := range cl.WriteFiles {
		if err := os.WriteFile(w.Path, w.Data, 0o600); err != nil {
			return nil, err
		}
	}
	// The UEFI varstore from its template, as the driver does.
	if cl.NVRAM != "" && !exists(cl.NVRAM) {
		tmpl := cl.NVRAMTemplate
		if orig, ok := pm.rev[tmpl]; ok {
			tmpl = orig
		}
		if err := copyOrCreate(cl.NVRAM, tmpl, 128<<10); err != nil {
			return nil, err
		}
	}
	blockdevs := map[string]map[string]any{} // node-name -> props
	fileFormat := map[string]string{}        // file node -> format
	var listeners []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range listeners {
			l.Close()
		}
		return nil, err
	}
	for i := 1; i+1 < len(argv); i++ {
		opt, val := argv[i], argv[i+1]
		if !strings.HasPrefix(opt, "-") || strings.HasPrefix(val, "-") {
			continue
		}
		i++
		var err error
		switch opt {
		case "-blockdev":
			var o map[string]any
			if json.Unmarshal([]byte(val), &o) == nil {
				if n, ok := o["node-name"].(string); ok {
					blockdevs[n] = o
				}
				if f, ok := o["file"].(string); ok {
					fileFormat[f], _ = o["driver"].(string)
				}
			}
		case "-drive":
			kv := splitOpts(val)
			if f := kv["file"]; pm.moved(f) {
				if kv["if"] == "pflash" {
					err = copyOrCreate(f, pm.rev[f], 4<<20)
				} else {
					fmtName := kv["format"]
					if fmtName == "" {
						fmtName = "raw"
					}
					err = makeImage(f, fmtName, nil)
				}
			}
		case "-kernel":
			err = os.WriteFile(val, stubKernel(), 0o644)
		case "-initrd", "-dtb":
			err = os.WriteFile(val, make([]byte, 4096), 0o644)
		case "-bios":
			if pm.moved(val) {
				err = copyOrCreate(val, pm.rev[val], 256<<10)
			}
		case "-fsdev":
			if d := splitOpts(val)["path"]; pm.moved(d) {
				err = os.MkdirAll(d, 0o755)
			}
		case "-chardev":
			kv := splitOpts(val)
			path := kv["path"]
			switch {
			case !pm.moved(path):
			case strings.HasPrefix(val, "pipe,"):
				if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
					for _, s := range []string{".in", ".out"} {
						if err == nil {
							err = syscall.Mkfifo(path+s, 0o600)
						}
					}
				}
			case strings.HasPrefix(val, "socket,") && kv["server"] != "on":
				// A client socket: something must listen there.
				if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
					var l net.Listener
					if l, err = net.Listen("unix", path); err == nil {
						listeners = append(listeners, l)
					}
				}
			}
		}
		if err != nil {
			return fail(err)
		}
		// Whatever else names a moved path gets its directory.
		for _, m := range regexp.MustCompile(regexp.QuoteMeta(pm.dir)+`/[^,"\s]*`).FindAllString(val, -1) {
			if err := os.MkdirAll(filepath.Dir(m), 0o755); err != nil {
				return fail(err)
			}
		}
	}
	for node, o := range blockdevs {
		f, _ := o["filename"].(string)
		format := fileFormat[node]
		if format == "" {
			format = "raw"
		}
		switch o["driver"] {
		case "vvfat":
			if d, _ := o["dir"].(string); pm.moved(d) {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return fail(err)
				}
			}
			continue
		case "host_device", "host_cdrom":
			if !pm.moved(f) || exists(f) {
				continue
			}
			// A device node of the run's own (its own inode, so no
			// other QEMU holds locks on it) that reads as an empty
			// disk: /dev/null's numbers.
			if format != "raw" {
				return fail(skipReason("image format " + format + " on a block device"))
			}
			if err := syscall.Mknod(f, syscall.S_IFCHR|0o600, 1<<8|3); err != nil {
				return fail(err)
			}
			continue
		case "file":
		default:
			continue
		}
		if !pm.moved(f) || exists(f) {
			continue
		}
		if strings.HasPrefix(node, "libvirt-pflash") {
			// Firmware: the host's own image when it has it.
			if err := copyOrCreate(f, pm.rev[f], 2<<20); err != nil {
				return fail(err)
			}
			continue
		}
		var enc map[string]any
		for _, fo := range blockdevs {
			if fo["file"] == node {
				enc, _ = fo["encrypt"].(map[string]any)
				if fo["driver"] == "luks" {
					enc = fo
				}
			}
		}
		if err := makeImage(f, format, enc); err != nil {
			return fail(err)
		}
	}
	return listeners, nil
}

// skipReason is why an input cannot start here, found while preparing it.
type skipReason string

func (s skipReason) Error() string { return string(s) }

// moved reports whether path is one of the moved paths (or below one).
func (pm *pathMap) moved(path string) bool {
	return path != "" && strings.HasPrefix(path, pm.dir+"/")
}

// makeImage creates an image of format; an encrypted one (LUKS or qcow2
// with LUKS encryption) gets libvirt's test secret as its passphrase.
func makeImage(path, format string, enc map[string]any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if format == "raw" {
		// What qemu-img would do, without a process per image.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(16 << 20)
	}
	args := []string{"create", "-q", "-f", format}
	switch {
	// A short key derivation: the default calibrates PBKDF2 to two
	// seconds, spent again by QEMU opening the image.
	case format == "luks":
		args = append(args, "--object", "secret,id=sec0,data="+corpusSecret, "-o", "key-secret=sec0,iter-time=10")
	case enc != nil:
		args = append(args, "--object", "secret,id=sec0,data="+corpusSecret, "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10")
	}
	args = append(args, path, "16M")
	if out, err := qemuImg(args...); err != nil {
		return fmt.Errorf("qemu-img %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// qemuImg runs qemu-img. It calibrates a LUKS key derivation on the CPU
// time it measured, and gives up ("Unable to get accurate CPU usage") when
// the measurement came out empty, which happens now and then even on an
// idle machine: that is retried.
func qemuImg(args ...string) ([]byte, error) {
	for try := 0; ; try++ {
		out, err := exec.Command("qemu-img", args...).CombinedOutput()
		if err == nil || try >= 4 || !strings.Contains(string(out), "Unable to get accurate CPU usage") {
			return out, err
		}
		os.Remove(args[len(args)-2]) // the image path, before its size
	}
}

// copyOrCreate gives a firmware file its host original when this host has
// it, or size zero bytes.
func copyOrCreate(path, orig string, size int) error {
	data, err := os.ReadFile(orig)
	if err != nil {
		data = make([]byte, size)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// splitOpts splits QEMU's key=value,... option syntax (",," escapes a
// comma); a leading bare word is the value of key "".
func splitOpts(s string) map[string]string {
	kv := map[string]string{}
	var parts []string
	cur := ""
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			if i+1 < len(s) && s[i+1] == ',' {
				cur += ","
				i++
				continue
			}
			parts = append(parts, cur)
			cur = ""
			continue
		}
		cur += string(s[i])
	}
	parts = append(parts, cur)
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			k, v = "", p
		}
		kv[k] = v
	}
	return kv
}

// portSeq walks the display port range (libvirt's 5900-65535) from a
// point of its own, so parallel test runs rarely meet.
var portSeq atomic.Int64

func init() { portSeq.Store(int64(5900 + os.Getpid()%20000)) }

// freeDisplayPort is a display port nothing listens on now.
func freeDisplayPort() (int, error) {
	for range 1000 {
		p := int(portSeq.Add(1))
		if p > 65535 {
			portSeq.Store(5900)
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free display port")
}
