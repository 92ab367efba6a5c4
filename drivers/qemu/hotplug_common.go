package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// virDomainDeviceModifyFlags.
const (
	modifyLive   = 1 << 0
	modifyConfig = 1 << 1
	modifyForce  = 1 << 2
)

// deviceJob runs fn with v's job held, for device changes that may touch
// the live guest, the persistent definition or both. Unlike withJob it
// accepts an inactive guest (config-only changes).
func (c *conn) deviceJob(h driver.Domain, op string, fn func(v *vm) error) error {
	v, err := c.jobVM(h, op)
	if err != nil {
		return err
	}
	defer v.job.release()
	return fn(v)
}

// modificationImpact resolves "current" and checks the flags against the
// guest as virDomainObjUpdateModificationImpact does. It also returns the
// monitor when the live guest is affected.
func modificationImpact(v *vm, flags uint32) (uint32, monitor, error) {
	v.mu.Lock()
	active, persistent, mon, broken := v.active(), v.persistent, v.mon, v.brokenMsg
	v.mu.Unlock()
	flags &= modifyLive | modifyConfig
	if flags == 0 {
		flags = modifyConfig
		if active {
			flags = modifyLive
		}
	}
	if flags&modifyLive != 0 {
		if !active {
			return 0, nil, errQEMU(virerr.ErrOperationInvalid, "domain is not running")
		}
		if broken != "" {
			return 0, nil, errQEMU(virerr.ErrOperationFailed, "%s", broken)
		}
		if mon == nil {
			return 0, nil, errQEMU(virerr.ErrOperationInvalid, "monitor of domain '%s' is not connected", v.name)
		}
	}
	if flags&modifyConfig != 0 && !persistent {
		return 0, nil, errQEMU(virerr.ErrOperationInvalid, "transient domains do not have any persistent config")
	}
	return flags, mon, nil
}

// checkFlagsMask refuses unknown flag bits with libvirt 9.0's
// virCheckFlags message (errFlagsFn).
func checkFlagsMask(flags, allowed uint32, fn string) error {
	if flags&^allowed != 0 {
		return errFlagsFn(flags&^allowed, fn)
	}
	return nil
}

// nodeIndexAllocator hands out node-name numbers (and image indexes)
// from the guest's one counter, the block-job code's: it steps past every
// number the live definition uses, mirrors included, and never reuses one
// while QEMU runs. live is unused but documents what the numbers cover.
func nodeIndexAllocator(v *vm, _ *conf.Domain) func() int {
	return func() int {
		v.mu.Lock()
		defer v.mu.Unlock()
		return allocIndex(v)
	}
}

// nodeIndex is N of libvirt-N-storage / libvirt-N-format, 0 otherwise.
func nodeIndex(name string) int {
	rest, ok := strings.CutPrefix(name, "libvirt-")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "-")
	n, _ := strconv.Atoi(num)
	return n
}

// liveSnapshot returns the live definition and caps of a running guest.
// The definition is shared: callers clone before changing it and publish
// the clone with publishLive.
func liveSnapshot(v *vm) (*conf.Domain, *conf.Domain, command.Caps) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var qc command.Caps
	if v.caps != nil {
		qc = v.caps
	}
	return v.live, v.def, qc
}

// modifyLive changes the live definition copy-on-write: readers format
// the definition they got outside the lock, so the published one is never
// changed in place. The copy is made under the lock so concurrent
// changes (a tray event during a media change) are never lost. fn must
// not block. The status file is written afterwards.
func (d *Driver) modifyLive(v *vm, fn func(live *conf.Domain)) {
	v.mu.Lock()
	if v.live == nil {
		v.mu.Unlock()
		return
	}
	next := v.live.Clone()
	fn(next)
	v.live = next
	v.mu.Unlock()
	d.saveStatusLogged(v)
}

// publishConfig saves and installs a new persistent definition.
func (d *Driver) publishConfig(v *vm, def *conf.Domain) error {
	if err := d.saveDef(def); err != nil {
		return err
	}
	v.mu.Lock()
	v.def = def
	v.mu.Unlock()
	return nil
}

// hotplugCtx is the context of a device change's monitor commands. Each
// command is bounded by its entry in qmp's timeout table (at most 30 s
// for every command a device change sends), so a stuck QEMU fails the
// API instead of holding the job forever.
func hotplugCtx() context.Context { return context.Background() }

// qmpError turns a monitor failure into libvirt's error: QEMU's own
// message for a QMP error reply, as libvirt reports it.
func qmpError(err error) error {
	var qe *qmp.Error
	if errors.As(err, &qe) {
		return errQEMU(virerr.ErrInternalError, "unable to execute QEMU command '%s': %s", qe.Command, qe.Desc)
	}
	return errQEMU(virerr.ErrOperationFailed, "monitor: %v", err)
}

// fillDiskDefaults applies libvirt's parse-time defaults to a disk from a
// device document: the bus from the target name, read-only media for
// CD-ROMs, and qemuDomainDeviceDiskDefPostParse's driver "qemu" and raw
// format (libvirt never probes formats).
func fillDiskDefaults(d *conf.Disk) {
	if d.DriverName == "" {
		d.DriverName = "qemu"
	}
	if d.Source.Format == "" && d.Source.Type != "volume" {
		d.Source.Format = "raw"
	}
	if d.TargetBus == "" {
		d.TargetBus = command.DiskBusDefault(d.TargetDev)
	}
	if d.Source.Type == "" {
		d.Source.Type = "file"
	}
	if d.Device == "cdrom" {
		d.ReadOnly = true
	}
}

// checkSourceAccess reports a missing image as libvirt does before it
// touches QEMU (virStorageSourceReportBrokenChain).
func checkSourceAccess(d *conf.Disk) error {
	top := d.Source.Path
	for s := &d.Source; s != nil && s.Type != ""; s = s.Backing {
		if s.Path == "" || (s.Type != "file" && s.Type != "block") {
			continue
		}
		if _, err := os.Stat(s.Path); err != nil {
			var errno string
			if pe, ok := err.(*os.PathError); ok {
				errno = pe.Err.Error()
				errno = strings.ToUpper(errno[:1]) + errno[1:]
			} else {
				errno = err.Error()
			}
			if s == &d.Source {
				return virerr.New(virerr.FromStorage, virerr.ErrSystemError,
					"Cannot access storage file '%s' (as uid:%d, gid:%d): %s", s.Path, os.Geteuid(), os.Getegid(), errno)
			}
			return virerr.New(virerr.FromStorage, virerr.ErrSystemError,
				"Cannot access backing file '%s' of storage file '%s' (as uid:%d, gid:%d): %s",
				s.Path, top, os.Geteuid(), os.Getegid(), errno)
		}
	}
	return nil
}

// deviceKind names a parsed device as libvirt's virDomainDeviceType
// strings do, for "not supported" messages.
func deviceKind(dev any) string {
	switch x := dev.(type) {
	case *conf.Disk:
		return "disk"
	case *conf.Interface:
		return "interface"
	case *conf.Controller:
		return "controller"
	case *conf.Graphics:
		return "graphics"
	case *conf.Chardev:
		return "chr"
	case *conf.Input:
		return "input"
	case *conf.Video:
		return "video"
	case *conf.MemBalloon:
		return "memballoon"
	case *conf.Watchdog:
		return "watchdog"
	case *conf.RNG:
		return "rng"
	case *conf.Panic:
		return "panic"
	case *conf.Sound:
		return "sound"
	case *conf.Audio:
		return "audio"
	case *conf.RawDevice:
		return x.Kind
	}
	return fmt.Sprintf("%T", dev)
}

// deviceChange is libvirt's LiveAndConfig pattern for attach, detach and
// update: under the guest's job, the persistent change goes to a clone
// that is published only once the live change (if asked) worked too, so
// a failure leaves both definitions as they were. Each side parses the
// device itself: the two definitions never share one.
func (c *conn) deviceChange(h driver.Domain, op, xml string, flags uint32,
	onConfig func(def *conf.Domain, dev any) error,
	onLive func(v *vm, mon monitor, dev, confDev any) error) error {
	if _, err := conf.ParseDevice([]byte(xml)); err != nil {
		return err
	}
	return c.deviceJob(h, op, func(v *vm) error {
		flags, mon, err := modificationImpact(v, flags)
		if err != nil {
			return err
		}
		var newDef *conf.Domain
		var confDev any
		if flags&modifyConfig != 0 {
			confDev, _ = conf.ParseDevice([]byte(xml))
			v.mu.Lock()
			newDef = v.def.Clone()
			v.mu.Unlock()
			if err := onConfig(newDef, confDev); err != nil {
				return err
			}
		}
		if flags&modifyLive != 0 {
			dev, _ := conf.ParseDevice([]byte(xml))
			if err := onLive(v, mon, dev, confDev); err != nil {
				return err
			}
		}
		if newDef != nil {
			return c.d.publishConfig(v, newDef)
		}
		return nil
	})
}
