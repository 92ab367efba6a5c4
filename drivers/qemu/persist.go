package qemu

import (
	"os"
	"path/filepath"
	"strings"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/virerr"
)

// Persistent definitions live in StateDir/qemu/NAME.xml, written
// atomically; autostart is a marker file StateDir/qemu/autostart/NAME.

func (d *Driver) defPath(name string) string { return filepath.Join(d.dirs.defs, name+".xml") }
func (d *Driver) autostartPath(name string) string {
	return filepath.Join(d.dirs.autostart, name)
}

func (d *Driver) saveDef(def *conf.Domain) error {
	data, err := def.Format(conf.FormatInactive | conf.FormatSecure)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(d.defPath(def.Name), data, 0o600); err != nil {
		return virerr.New(virerr.FromQemu, virerr.ErrOperationFailed, "cannot save definition of '%s': %v", def.Name, err)
	}
	return nil
}

func (d *Driver) removeDef(name string) error {
	if err := atomicfile.Remove(d.autostartPath(name)); err != nil {
		return err
	}
	return atomicfile.Remove(d.defPath(name))
}

func (d *Driver) setAutostartFile(name string, on bool) error {
	if on {
		return atomicfile.Write(d.autostartPath(name), []byte(name+"\n"), 0o600)
	}
	return atomicfile.Remove(d.autostartPath(name))
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
		v := newVM(def, true)
		if _, err := os.Stat(d.autostartPath(def.Name)); err == nil {
			v.autostart = true
		}
		if err := d.doms.add(v); err != nil {
			d.log.Error("skipping definition", "path", path, "err", err)
		}
	}
	return nil
}
