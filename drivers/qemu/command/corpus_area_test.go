package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"govirt/conf"
)

// libvirt's tests of character, input and USB devices whose refusal does
// not depend on the QEMU version: the .err of inputs run with older
// capabilities (qemuxml2argvtest's DO_TEST_PARSE_ERROR / DO_TEST_FAILURE),
// built here with QEMU 8.0's, must be refused with the same message.
var areaErrInputs = []string{
	"usb-bus-missing",
	"usb-controller-qemu-xhci-limit",
	"usb-controller-xhci-limit",
	"usb-hub-conflict",
	"usb-hub-nonexistent",
	"usb-none-hub",
	"usb-none-usbtablet",
	"usb-ports-out-of-range",
	"usb-too-long-port-path-invalid",
	"virtio-rng-egd-crash",
	"usb-none-other",
	"usb-ich9-no-companion",
}

func TestCorpusAreaErrors(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "qemuxml2argvdata")
	for _, name := range areaErrInputs {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(data, name+".err"))
			if err != nil {
				t.Fatal(err)
			}
			// These inputs are i686 guests; the x86_64 binary runs them.
			src, err := os.ReadFile(filepath.Join(data, name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			x := strings.ReplaceAll(string(src), "arch='i686'", "arch='x86_64'")
			x = strings.ReplaceAll(x, "qemu-system-i386", "qemu-system-x86_64")
			file := filepath.Join(t.TempDir(), name+".xml")
			if err := os.WriteFile(file, []byte(x), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = buildCorpusInput(t, testHostCaps{cp}, file, domainName(file))
			if err == nil {
				t.Fatalf("accepted; libvirt: %s", want)
			}
			if got := strings.TrimSpace(errMessage(err)); got != strings.TrimSpace(string(want)) {
				t.Errorf("libvirt: %s\ngovirt:  %s", strings.TrimSpace(string(want)), got)
			}
		})
	}
}

// areaDeviceInputs are libvirt's inputs of this area that it tests only
// with older capabilities, whose command lines use QEMU's key=value
// -device syntax. The device, chardev and object arguments govirt builds
// with QEMU 8.0's capabilities, written in that syntax (the same
// properties in the same order), must be libvirt's.
var areaDeviceInputs = []string{
	"balloon-device", "balloon-device-auto", "balloon-device-deflate", "balloon-device-deflate-off",
	"balloon-device-period", "input-usbmouse", "input-usbmouse-addr", "input-usbtablet",
	"smartcard-controller", "smartcard-host", "smartcard-host-certificates",
	"smartcard-host-certificates-database", "smartcard-passthrough-tcp",
	"usb-controller", "usb-controller-explicit-q35", "usb-controller-qemu-xhci", "usb-controller-xhci",
	"usb-hub", "usb-hub-autoadd", "usb-hub-autoadd-deluxe", "usb-ich9-autoassign", "usb-ich9-companion",
	"usb-ich9-ehci-addr", "usb-long-port-path", "usb-none", "usb-piix3-controller", "usb-port-autoassign",
	"usb-port-missing", "usb-ports", "usb-xhci-autoassign",
	"channel-guestfwd", "channel-virtio", "channel-virtio-auto", "channel-virtio-autoadd",
	"channel-virtio-autoassign", "channel-virtio-state", "console-virtio", "console-virtio-many",
	"virtio-rng-default", "virtio-rng-egd", "virtio-rng-multiple", "virtio-rng-random",
	"smartcard-passthrough-spicevmc", "usb-redir", "usb-redir-boot", "usb-redir-filter",
	"usb-redir-filter-version", "channel-spicevmc", "channel-virtio-default", "serial-spiceport",
}

var cpusetAttr = regexp.MustCompile(` cpuset='[^']*'`)

// legacyProps writes a JSON -device or -object as QEMU's key=value
// option (virQEMUBuildCommandLineJSON): the type first, then every
// property in order, booleans as on/off, commas doubled.
func legacyProps(js, typeKey string) (string, error) {
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	if _, err := d.Token(); err != nil {
		return "", err
	}
	var typ string
	var parts []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return "", err
		}
		var v any
		if err := d.Decode(&v); err != nil {
			return "", err
		}
		var s string
		switch x := v.(type) {
		case bool:
			s = map[bool]string{true: "on", false: "off"}[x]
		case json.Number:
			s = x.String()
		case string:
			s = strings.ReplaceAll(x, ",", ",,")
		default:
			return "", fmt.Errorf("property %v of %s is not a scalar", k, js)
		}
		if k == typeKey {
			typ = s
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%s", k, s))
	}
	return strings.Join(append([]string{typ}, parts...), ","), nil
}

// areaLines are the arguments of a command line this area builds.
func areaLines(args string, legacy bool) ([]string, error) {
	prefixes := []string{"-chardev ", "-device usb", "-device ich9", "-device isa-serial", "-device virtserialport",
		"-device virtconsole", "-device ccid", "-device isa-parallel", "-device nec", "-device qemu-xhci",
		"-device piix3-usb", "-device pci-ohci", "-device virtio-rng", "-device virtio-balloon", "-device i6300",
		"-device ib700", "-watchdog", "-object "}
	var out []string
	for _, l := range strings.Split(normaliseArgs(args), "\n") {
		var err error
		switch {
		case !legacy:
		case strings.HasPrefix(l, "-device '{"):
			l, err = legacyProps(strings.Trim(strings.TrimPrefix(l, "-device "), "'"), "driver")
			l = "-device " + l
		case strings.HasPrefix(l, "-object '{"):
			l, err = legacyProps(strings.Trim(strings.TrimPrefix(l, "-object "), "'"), "qom-type")
			l = "-object " + l
		}
		if err != nil {
			return nil, err
		}
		// Quoting for the shell is not compared.
		l = strings.ReplaceAll(l, "'", "")
		// Old capabilities spell the PIIX3 USB controller -usb.
		if l == "-device piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2" || strings.Contains(l, "charmonitor") ||
			strings.Contains(l, "masterKey0") || strings.Contains(l, "id=pc.ram") {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return out, nil
}

func TestCorpusAreaDevices(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "qemuxml2argvdata")
	for _, name := range areaDeviceInputs {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(data, name+".args"))
			if err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(filepath.Join(data, name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			x := strings.ReplaceAll(string(src), "arch='i686'", "arch='x86_64'")
			x = strings.ReplaceAll(x, "qemu-system-i386", "qemu-system-x86_64")
			// vCPU pinning is another part of the builder and changes
			// none of the arguments compared.
			x = cpusetAttr.ReplaceAllString(x, "")
			file := filepath.Join(t.TempDir(), name+".xml")
			if err := os.WriteFile(file, []byte(x), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := buildCorpusInput(t, testHostCaps{cp}, file, domainName(file))
			if err != nil {
				t.Fatal(err)
			}
			w, err := areaLines(string(want), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(w) == 0 {
				t.Fatal("libvirt's command line has none of the arguments compared")
			}
			g, err := areaLines(got, true)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := strings.Join(w, "\n")+"\n", strings.Join(g, "\n")+"\n"; a != b {
				t.Errorf("%s", unifiedDiff(a, b))
			}
		})
	}
}

// TestQemuNSVariants: libvirt's inputs that spell the QEMU namespace
// differently (default namespace on the element, other prefixes on the
// domain, the element or a child) give libvirt's extra arguments and
// environment.
func TestQemuNSVariants(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "qemuxml2argvdata")
	for name, want := range map[string]struct{ args, env []string }{
		"qemu-ns-alt":                    {[]string{"-unknown", "parameter"}, []string{"NS=ns", "BAR="}},
		"qemu-ns-no-env":                 {[]string{"-unknown", "parameter"}, nil},
		"qemu-ns-commandline":            {[]string{"ARGUMENT"}, nil},
		"qemu-ns-commandline-ns0":        {[]string{"ARGUMENT"}, nil},
		"qemu-ns-commandline-ns1":        {[]string{"ARGUMENT"}, nil},
		"qemu-ns-domain-commandline":     {[]string{"ARGUMENT"}, nil},
		"qemu-ns-domain-commandline-ns0": {[]string{"ARGUMENT"}, nil},
		"qemu-ns-domain-ns0":             {[]string{"ARGUMENT"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(data, name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			x := strings.ReplaceAll(string(src), "arch='i686'", "arch='x86_64'")
			x = strings.ReplaceAll(x, "qemu-system-i386", "qemu-system-x86_64")
			def, err := conf.ParseDomain([]byte(x), conf.ParseValidate)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := Build(def, testHostCaps{cp}, corpusPaths(def.Name))
			if err != nil {
				t.Fatal(err)
			}
			// The arguments come right before -sandbox.
			i := slices.Index(cl.Argv, "-sandbox")
			if i < len(want.args) || !slices.Equal(cl.Argv[i-len(want.args):i], want.args) {
				t.Errorf("arguments %q, want %q before -sandbox", cl.Argv, want.args)
			}
			if !slices.Equal(cl.UserEnv, want.env) || len(want.env) > 0 && !slices.Equal(cl.Env[len(cl.Env)-len(want.env):], want.env) {
				t.Errorf("environment %q (own %q), want %q", cl.Env, cl.UserEnv, want.env)
			}
			if len(cl.Taints) == 0 || cl.Taints[0] != "custom-argv" {
				t.Errorf("taints %q", cl.Taints)
			}
		})
	}
}
