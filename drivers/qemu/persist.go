package qemu

import (
	"os"
	"path/filepath"
	"strings"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/drivers/internal/safepath"
	"govirt/virerr"
)

// Persistent definitions live in StateDir/qemu/NAME.xml, written
// atomically; autostart is a marker file StateDir/qemu/autostart/NAME.xml
// (libvirt's link name). Names come from clients: every path built from
// one goes through safepath, and the suffix keeps "." and ".." harmless.

func (d *Driver) defPath(name string) (string, error) {
	return safepath.Join(d.dirs.defs, name, ".xml")
}
func (d *Driver) autostartPath(name string) (string, error) {
	return safepath.Join(d.dirs.autostart, name, ".xml")
}

// legacyAutostart is the marker earlier versions wrote, without suffix.
func (d *Driver) legacyAutostart(name string) string {
	p, err := safepath.Join(d.dirs.autostart, name, "")
	if err != nil {
		return ""
	}
	return p
}

func (d *Driver) saveDef(def *conf.Domain) error {
	data, err := def.Format(conf.FormatInactive | conf.FormatSecure)
	if err != nil {
		return err
	}
	path, err := d.defPath(def.Name)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return virerr.New(virerr.FromQemu, virerr.ErrOperationFailed, "cannot save definition of '%s': %v", def.Name, err)
	}
	return nil
}

func (d *Driver) removeDef(name string) error {
	if err := d.setAutostartFile(name, false); err != nil {
		return err
	}
	path, err := d.defPath(name)
	if err != nil {
		return err
	}
	return atomicfile.Remove(path)
}

func (d *Driver) setAutostartFile(name string, on bool) error {
	path, err := d.autostartPath(name)
	if err != nil {
		return err
	}
	if on {
		return atomicfile.Write(path, []byte(name+"\n"), 0o600)
	}
	if old := d.legacyAutostart(name); old != "" {
		if err := atomicfile.Remove(old); err != nil {
			return err
		}
	}
	return atomicfile.Remove(path)
}

// autostartMarked reports whether name has an autostart marker.
func (d *Driver) autostartMarked(name string) bool {
	if path, err := d.autostartPath(name); err == nil {
		if _, err := os.Stat(path); err == nil {
			return true
		}
	}
	if old := d.legacyAutostart(name); old != "" {
		if fi, err := os.Stat(old); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// loadDefinitions reads every saved definition. A file that no longer
// parses is logged and skipped, never deleted: nothing is lost.
func (d *Driver) loadDefinitions() error {
	ents, err := os.ReadDir(d.dirs.defs)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".xml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(d.dirs.defs, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			d.log.Error("cannot read definition", "path", path, "err", err)
			continue
		}
		def, err := conf.ParseDomain(data, 0)
		if err != nil {
			d.log.Error("cannot parse definition", "path", path, "err", err)
			continue
		}
		// libvirt runs its post-parse step on every definition it
		// loads, so one saved before govirt had that step gets the
		// defaults and addresses now; one the step refuses is kept as
		// written (start reports the refusal).
		if err := d.applyPostParse(def); err != nil {
			d.log.Warn("definition kept without post-parse defaults", "path", path, "err", err)
		}
		v := newVM(def, true)
		v.autostart = d.autostartMarked(def.Name)
		if err := d.doms.add(v); err != nil {
			d.log.Error("skipping definition", "path", path, "err", err)
		}
	}
	return nil
}
