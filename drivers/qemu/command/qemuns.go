package command

import (
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
