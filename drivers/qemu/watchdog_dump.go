package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"govirt/driver"
	"govirt/qmp"
)

// watchdogDumpAction reports whether the guest's watchdog asks for a
// dump when it fires (<watchdog action='dump'>, which QEMU sees as pause).
func watchdogDumpAction(v *vm) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.live != nil && len(v.live.Devices.Watchdogs) > 0 && v.live.Devices.Watchdogs[0].Action == "dump"
}

// watchdogDump is libvirt's processWatchdogEvent for the dump action:
// under a dump job, a memory-only core of the guest goes to the dump
// directory (libvirt's auto_dump_path, NAME-DATE), then the vCPUs paused
// by the watchdog run again.
func (d *Driver) watchdogDump(v *vm) {
	ctx, run := v.runContext()
	if err := v.job.beginAsync(ctx, asyncDump, apiName("watchdog dump"), defaultJobMask); err != nil {
		return
	}
	defer v.job.endAsync()
	v.mu.Lock()
	mon, id, name, ok := v.mon, v.id, v.name, v.run == run && v.active()
	v.mu.Unlock()
	if !ok || mon == nil {
		return
	}
	dir := filepath.Join(d.cfg.StateDir, "qemu", "dump")
	short := []rune(name)
	if len(short) > 20 {
		short = short[:20]
	}
	path := filepath.Join(dir, fmt.Sprintf("%d-%s-%s", id, string(short), time.Now().Format("2006-01-02-15:04:05")))
	if err := d.dumpMemory(ctx, mon, dir, path); err != nil {
		d.log.Warn("Dump failed", "domain", name, "err", err)
	}
	if err := d.startCPUs(ctx, v, driver.RunningUnpaused); err != nil {
		d.log.Warn("Resuming after dump failed", "domain", name, "err", err)
	}
}

// dumpMemory writes the guest's memory to path through a descriptor the
// daemon opens, as libvirt passes it.
func (d *Driver) dumpMemory(ctx context.Context, mon monitor, dir, path string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fm, ok := mon.(fdMonitor)
	if !ok {
		return fmt.Errorf("monitor cannot pass descriptors")
	}
	if err := qmp.Getfd(ctx, fm, "govirt-dump", f); err != nil {
		return err
	}
	return qmp.DumpGuestMemory(ctx, mon, "fd:govirt-dump")
}
