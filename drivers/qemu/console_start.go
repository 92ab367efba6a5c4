package qemu

import (
	"context"
	"strings"
	"time"

	"govirt/conf"
	"govirt/qmp"
)

// afterStart runs once a guest has started (boot, restore): it records
// what only QEMU knows (pty paths, the VNC port it picked) in the live
// definition, sets the VNC password and starts logging the consoles,
// before the vCPUs run (after an incoming stream completes, for a
// restore). The caller holds v's job and saves the status afterwards, so
// what was read back survives a daemon restart.
func (d *Driver) afterStart(v *vm) {
	v.mu.Lock()
	mon, name := v.mon, v.name
	v.mu.Unlock()
	if mon == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.readPTYPaths(ctx, v, mon); err != nil {
		d.log.Warn("cannot read pty paths", "domain", name, "err", err)
	}
	if err := d.setupVNC(ctx, v, mon); err != nil {
		d.log.Warn("cannot set up VNC", "domain", name, "err", err)
	}
	d.setupBalloonPeriod(v, mon)
	d.startConsoleLogs(v)
}

// chardevInfo is one entry of query-chardev.
type chardevInfo = qmp.ChardevInfo

// readPTYPaths asks QEMU which /dev/pts each pty chardev got: QEMU picks
// them at start, and clients (virsh console, dumpxml users) need them.
func (d *Driver) readPTYPaths(ctx context.Context, v *vm, mon monitor) error {
	v.mu.Lock()
	need := false
	if v.live != nil {
		for _, s := range v.live.Devices.Serials {
			need = need || s.Type == "pty"
		}
	}
	v.mu.Unlock()
	if !need {
		return nil
	}
	infos, err := qmp.QueryChardev(ctx, mon)
	if err != nil {
		return qmpFailed("query-chardev", err)
	}
	paths := map[string]string{}
	for _, in := range infos {
		if p, ok := strings.CutPrefix(in.Filename, "pty:"); ok {
			paths[in.Label] = p
		}
	}
	// The live definition is replaced, never changed in place: readers
	// format it outside the lock.
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.live == nil {
		return nil
	}
	live := v.live.Clone()
	setPTYPaths(live, paths)
	v.live = live
	return nil
}

// setPTYPaths fills in the pty path of every pty serial (the builder
// names its chardev "char"+alias) and of the consoles standing for them,
// which libvirt also shows in the legacy tty= attribute.
func setPTYPaths(def *conf.Domain, paths map[string]string) {
	for _, s := range def.Devices.Serials {
		if p := paths["char"+s.Alias]; s.Type == "pty" && p != "" {
			s.SourcePath = p
		}
	}
	for _, c := range def.Devices.Consoles {
		s := consoleBacking(def, c)
		if c.Type == "pty" && s.Type == "pty" && s.SourcePath != "" {
			c.SourcePath = s.SourcePath
			conf.SetDeviceValue(c, "@tty", s.SourcePath)
		}
	}
}

// startConsoleLogs opens a hub on every pty so its output is logged from
// the first line on, whether or not a console client ever attaches.
func (d *Driver) startConsoleLogs(v *vm) {
	v.mu.Lock()
	name := v.name
	var paths []string
	if v.live != nil {
		for _, s := range v.live.Devices.Serials {
			if s.Type == "pty" && s.SourcePath != "" {
				paths = append(paths, s.SourcePath)
			}
		}
	}
	v.mu.Unlock()
	for _, p := range paths {
		if _, err := hubFor(v, p, func() (*consoleHub, error) { return openPTYHub(d, v, p) }); err != nil {
			d.log.Warn("cannot log console", "domain", name, "pty", p, "err", err)
		}
	}
}
