package command

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// qemuNS is the URI of libvirt's QEMU domain XML namespace.
const qemuNS = "http://libvirt.org/schemas/domain/qemu/1.0"

// qemuPrefix is the prefix the document binds to libvirt's QEMU
// namespace, "" when it binds none.
func qemuPrefix(root *conf.Element) string {
	for _, a := range root.Attrs() {
		if p, ok := strings.CutPrefix(a, "xmlns:"); ok && attr(root, a) == qemuNS {
			return p
		}
	}
	return ""
}

// CustomArgv reports whether def passes QEMU its own arguments or
// environment through <qemu:commandline>, for which libvirt taints the
// domain "custom-argv" when it starts.
func CustomArgv(def *conf.Domain) bool {
	t := def.Tree()
	p := qemuPrefix(t)
	if p == "" {
		return false
	}
	for _, cl := range t.Children(p + ":commandline") {
		if len(cl.Children(p+":arg")) > 0 || len(cl.Children(p+":env")) > 0 {
			return true
		}
	}
	return false
}

// qemuCommandline reads <qemu:commandline>: the arguments appended to the
// command line and the environment added, checked as libvirt's namespace
// parser checks them.
func (b *builder) qemuCommandline() (args, env []string, err error) {
	t := b.def.Tree()
	p := qemuPrefix(t)
	if p == "" {
		return nil, nil, nil
	}
	internal := func(msg string) error { return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "%s", msg) }
	for _, cl := range t.Children(p + ":commandline") {
		for _, a := range cl.Children(p + ":arg") {
			v, ok := a.Attr("value")
			if !ok {
				return nil, nil, internal("No qemu command-line argument specified")
			}
			args = append(args, v)
		}
		for _, e := range cl.Children(p + ":env") {
			name, ok := e.Attr("name")
			if !ok {
				return nil, nil, internal("No qemu environment name specified")
			}
			if c := name[0:min(1, len(name))]; c == "" || !(c == "_" || (c[0]|0x20 >= 'a' && c[0]|0x20 <= 'z')) {
				return nil, nil, internal("Invalid environment name, it must begin with a letter or underscore")
			}
			if strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != "" {
				return nil, nil, internal("Invalid environment name, it must contain only alphanumerics and underscore")
			}
			env = append(env, name+"="+attr(e, "value"))
		}
	}
	return args, env, nil
}

// biosOptions reads <os><bios>: useserial turns on SeaBIOS's serial
// console (-machine graphics=off) and needs a serial port; rebootTimeout
// goes on -boot.
func (b *builder) biosOptions() (serial bool, reboot string, err error) {
	bios := child(b.def.Tree(), "os", "bios")
	if bios == nil {
		return false, "", nil
	}
	serial = attr(bios, "useserial") == "yes"
	if serial && len(b.def.Devices.Serials) == 0 {
		return false, "", virerr.New(virerr.FromQemu, virerr.ErrXMLError, "need at least one serial port to use BIOS serial output")
	}
	if rt := attr(bios, "rebootTimeout"); rt != "" {
		n, err := strconv.Atoi(rt)
		if err != nil || n < -1 || n > 65535 {
			return false, "", unsupported("invalid value for rebootTimeout, must be in range [-1,65535]")
		}
		reboot = "reboot-timeout=" + strconv.Itoa(n) + ","
	}
	return serial, reboot, nil
}

// cpuFeatureNames are libvirt's x86 feature names QEMU spells otherwise
// (virQEMUCapsCPUFeaturesX86).
var cpuFeatureNames = map[string]string{"cmp_legacy": "cmp-legacy", "ds_cpl": "ds-cpl",
	"fxsr_opt": "fxsr-opt", "kvm_pv_eoi": "kvm-pv-eoi", "kvm_pv_unhalt": "kvm-pv-unhalt",
	"lahf_lm": "lahf-lm", "nodeid_msr": "nodeid-msr", "pclmuldq": "pclmulqdq",
	"perfctr_core": "perfctr-core", "perfctr_nb": "perfctr-nb", "tsc_adjust": "tsc-adjust"}

// cpuFeatures is the ",name=on|off" list qemuBuildCpuModelArgStr appends
// for <cpu><feature>: force/require on, disable/forbid off, optional
// left to the model.
func cpuFeatures(t *conf.Element) (string, error) {
	out := ""
	for _, c := range t.Children("cpu") {
		for _, f := range c.Children("feature") {
			name := attr(f, "name")
			if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
				return "", unsupported("invalid CPU feature name '%s'", name)
			}
			if q, ok := cpuFeatureNames[name]; ok {
				name = q
			}
			switch p := attr(f, "policy"); p {
			case "force", "require", "":
				out += "," + name + "=on"
			case "disable", "forbid":
				out += "," + name + "=off"
			case "optional":
			default:
				return "", unsupported("Invalid CPU feature policy '%s'", p)
			}
		}
	}
	return out, nil
}
