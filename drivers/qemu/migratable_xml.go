package qemu

import (
	"path/filepath"
	"strings"

	"govirt/conf"
)

// migratableFlags are the format flags of every definition that leaves
// this run: save images, migration, memory snapshots.
const migratableFlags = conf.FormatSecure | conf.FormatInactive | conf.FormatMigratable

// formatMigratable formats def as the definition a save image, a
// migration or a memory snapshot carries. As libvirt's
// qemuDomainChrDefDropDefaultPath, a virtio channel socket the driver
// placed in its per-run channel directory loses its path: the directory is
// named after this run's id, so the guest that starts from the definition
// (after a restore, on the destination) gets its own.
func (d *Driver) formatMigratable(def *conf.Domain) ([]byte, error) {
	out := def
	for i, c := range def.Devices.Channels {
		if !d.defaultChannelPath(c) {
			continue
		}
		if out == def {
			out = def.Clone()
		}
		out.Devices.Channels[i].SourcePath = ""
	}
	return out.Format(migratableFlags)
}

// defaultChannelPath reports whether c is a virtio unix channel whose
// socket lies in the driver's channel directory.
func (d *Driver) defaultChannelPath(c *conf.Chardev) bool {
	if c.Type != "unix" || c.TargetType != "virtio" || c.SourcePath == "" || d.dirs.channels == "" {
		return false
	}
	rel, err := filepath.Rel(d.dirs.channels, filepath.Clean(c.SourcePath))
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}
