package command

import (
	"govirt/conf"
)

// networkNVRAMNodes are the -objects and -blockdevs of a UEFI varstore on
// network storage (<nvram type='network'>): the same protocol node and
// secrets as a network disk, named libvirt-pflash1-*.
func (b *builder) networkNVRAMNodes(ne *conf.Element) ([]string, error) {
	src := child(ne, "source")
	s := &conf.DiskSource{Type: "network", Format: "raw", Protocol: attr(src, "protocol"), Name: attr(src, "name"),
		NodeName: "libvirt-pflash1-storage", NodeNameFormat: "libvirt-pflash1-format"}
	if s.Protocol == "" {
		return nil, xmlError("missing network source protocol type")
	}
	d := &conf.Disk{Device: "disk", Source: *s}
	l := chainLayer{src: &d.Source, el: ne, top: true}
	env := b.hostEnv()
	objs, err := b.layerObjects(d, l, env)
	if err != nil {
		return nil, err
	}
	st, err := b.storageNode(d, l, env)
	if err != nil {
		return nil, err
	}
	f, err := b.formatNode(d, l)
	if err != nil {
		return nil, err
	}
	var args []string
	for _, o := range objs {
		b.drivers = append(b.drivers, "secret")
		args = append(args, "-object", o.String())
	}
	return append(args, "-blockdev", st.String(), "-blockdev", f.String()), nil
}
