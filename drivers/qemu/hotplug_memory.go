package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/drivers/qemu/postparse"
	"govirt/qmp"
	"govirt/virerr"
)

// Memory devices in a running guest: the hot-plug of a DIMM, NVDIMM,
// virtio-mem or virtio-pmem (libvirt's qemuDomainAttachMemory:
// object-add of the backend, device_add, the guest's <memory> grown by
// the device), and what QEMU placed (qemuDomainUpdateMemoryDeviceInfo:
// a DIMM's base address, a virtio-mem's current size), read after start
// and after a hot-plug.

func (d *Driver) attachMemoryLive(v *vm, mon monitor, dev *conf.RawDevice) error {
	live, _, qc := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	postparse.MemoryDeviceUnits(dev)
	h := command.SystemHost()
	h.MemoryBackingDir = filepath.Join(d.cfg.StateDir, "qemu", "ram")
	mh, err := command.HotplugMemory(live, dev, qc, command.Paths{Host: &h})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(hotplugCtx(), 60*time.Second)
	defer cancel()
	if err := mon.Execute(ctx, "object-add", mh.Backend, nil); err != nil {
		return qmpError(err)
	}
	if err := qmp.DeviceAdd(ctx, mon, mh.Device); err != nil {
		if e := mon.Execute(ctx, "object-del", map[string]string{"id": "mem" + mh.Alias}, nil); e != nil {
			d.log.Warn("object-del", "domain", v.name, "object", "mem"+mh.Alias, "err", e)
		}
		return qmpError(err)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		if err := next.AddDevice(mh.Record); err != nil {
			d.log.Warn("recording a hot-plugged memory device", "domain", v.name, "err", err)
			return
		}
		// virDomainMemoryInsert: the device counts in <memory>.
		next.Memory += mh.SizeKiB
	})
	d.refreshMemoryDevices(v)
	// qemuProcessRefreshBalloonState: the guest's current memory now
	// counts the device's.
	if b, err := qmp.QueryBalloon(ctx, mon); err == nil && b.Actual > 0 {
		d.modifyLive(v, func(next *conf.Domain) { next.CurrentMemory = uint64(b.Actual) / 1024 })
	}
	d.publishDomain(v, driver.EventIDDeviceAdded, driver.DeviceAlias{Alias: mh.Alias})
	return nil
}

// memoryDeviceInfo is one entry of query-memory-devices.
type memoryDeviceInfo struct {
	Type string `json:"type"`
	Data struct {
		ID   string `json:"id"`
		Addr uint64 `json:"addr"`
		Slot int    `json:"slot"`
		Size uint64 `json:"size"`
	} `json:"data"`
}

// refreshMemoryDevices is qemuDomainUpdateMemoryDeviceInfo: the live
// definition shows where QEMU put each DIMM (base) and how much memory a
// virtio-mem device plugged (<current>).
func (d *Driver) refreshMemoryDevices(v *vm) {
	v.mu.Lock()
	mon, live := v.mon, v.live
	v.mu.Unlock()
	if mon == nil || live == nil || len(live.RawDevicesOf("memory")) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var raw json.RawMessage
	if err := mon.Execute(ctx, "query-memory-devices", nil, &raw); err != nil {
		d.log.Warn("query-memory-devices", "domain", v.name, "err", err)
		return
	}
	var infos []memoryDeviceInfo
	if err := json.Unmarshal(raw, &infos); err != nil {
		return
	}
	byID := map[string]memoryDeviceInfo{}
	for _, m := range infos {
		byID[m.Data.ID] = m
	}
	d.modifyLive(v, func(next *conf.Domain) {
		for _, m := range next.RawDevicesOf("memory") {
			e := conf.DeviceElement(m)
			al := e.Child("alias")
			if al == nil {
				continue
			}
			name, _ := al.Attr("name")
			info, ok := byID[name]
			if !ok {
				continue
			}
			switch info.Type {
			case "dimm", "nvdimm":
				conf.SetDeviceValue(m, "address/@type", "dimm")
				conf.SetDeviceValue(m, "address/@slot", strconv.Itoa(info.Data.Slot))
				conf.SetDeviceValue(m, "address/@base", fmt.Sprintf("0x%x", info.Data.Addr))
			case "virtio-mem":
				conf.SetDeviceValue(m, "target/current", strconv.FormatUint(info.Data.Size/1024, 10))
				conf.SetDeviceValue(m, "target/current/@unit", "KiB")
			}
		}
	})
}

// attachMemoryConfig is qemuDomainAttachDeviceConfig's memory case: a free
// slot is needed, and the device's size adds to <currentMemory> (the
// post-parse step that follows recomputes <memory>).
func attachMemoryConfig(def *conf.Domain, dev *conf.RawDevice) error {
	if uint(len(def.RawDevicesOf("memory"))) == def.MaxMemSlots {
		return errQEMU(virerr.ErrConfigUnsupported, "no free memory device slot available")
	}
	postparse.MemoryDeviceUnits(dev)
	if e := conf.DeviceElement(dev).Child("target"); e != nil {
		if sz := e.Child("size"); sz != nil {
			if n, err := strconv.ParseUint(sz.Text(), 10, 64); err == nil {
				def.CurrentMemory += n
			}
		}
	}
	return def.AddDevice(dev)
}

// memAttr reads a memory device's attribute at path ("target/size").
func memValue(m *conf.RawDevice, path ...string) string {
	e := conf.DeviceElement(m)
	for _, p := range path[:len(path)-1] {
		if e == nil {
			return ""
		}
		e = e.Child(p)
	}
	if e == nil {
		return ""
	}
	last := path[len(path)-1]
	if last == "" {
		return e.Text()
	}
	v, _ := e.Attr(last)
	return v
}

// findMemory is virDomainMemoryFindByDeviceInfo: the device of def at
// dev's address (a DIMM slot, a PCI address), else with dev's alias.
func findMemory(def *conf.Domain, dev *conf.RawDevice) *conf.RawDevice {
	a := conf.DeviceAddress(dev)
	alias := memValue(dev, "alias", "name")
	for _, m := range def.RawDevicesOf("memory") {
		if a.Type != "" {
			b := conf.DeviceAddress(m)
			if a.Type == b.Type && a.Domain == b.Domain && a.Bus == b.Bus && a.Slot == b.Slot && a.Function == b.Function &&
				memValue(m, "address", "slot") == memValue(dev, "address", "slot") {
				return m
			}
			continue
		}
		if alias != "" && memValue(m, "alias", "name") == alias {
			return m
		}
	}
	return nil
}

// updateMemoryLive is qemuDomainChangeMemoryLive: of a running guest's
// memory device only a virtio-mem's requested size changes (qom-set).
func (d *Driver) updateMemoryLive(v *vm, mon monitor, dev *conf.RawDevice) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	postparse.MemoryDeviceUnits(dev)
	old := findMemory(live, dev)
	if old == nil {
		return errQEMU(virerr.ErrConfigUnsupported, "memory '%s' not found", memValue(dev, "alias", "name"))
	}
	oldModel, newModel := memValue(old, "model"), memValue(dev, "model")
	if oldModel != "virtio-mem" {
		return errQEMU(virerr.ErrConfigUnsupported, "cannot modify memory of model '%s'", oldModel)
	}
	if oldModel != newModel {
		return errQEMU(virerr.ErrConfigUnsupported, "cannot modify memory model from '%s' to '%s'", oldModel, newModel)
	}
	for _, c := range []struct{ path, what string }{{"size", "size"}, {"block", "block size"}} {
		o, n := memValue(old, "target", c.path, ""), memValue(dev, "target", c.path, "")
		if o != n {
			return errQEMU(virerr.ErrConfigUnsupported, "cannot modify memory %s from '%s' to '%s'", c.what, kibBytes(o), kibBytes(n))
		}
	}
	if o, n := memValue(old, "target", "node", ""), memValue(dev, "target", "node", ""); o != n {
		return errQEMU(virerr.ErrConfigUnsupported, "cannot modify memory targetNode from '%s' to '%s'", o, n)
	}
	req := memValue(dev, "target", "requested", "")
	kib, err := strconv.ParseUint(req, 10, 64)
	if err != nil {
		return errQEMU(virerr.ErrXMLError, "invalid requested size '%s'", req)
	}
	alias := memValue(old, "alias", "name")
	ctx, cancel := context.WithTimeout(hotplugCtx(), 30*time.Second)
	defer cancel()
	if err := mon.Execute(ctx, "qom-set", map[string]any{"path": "/machine/peripheral/" + alias,
		"property": "requested-size", "value": kib * 1024}, nil); err != nil {
		return qmpError(err)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		if m := findMemory(next, old); m != nil {
			conf.SetDeviceValue(m, "target/requested", req)
			conf.SetDeviceValue(m, "target/requested/@unit", "KiB")
		}
	})
	return nil
}

// kibBytes writes a KiB count in bytes, as libvirt's messages give sizes.
func kibBytes(s string) string {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return s
	}
	return strconv.FormatUint(n, 10)
}

// updateMemoryConfig is qemuDomainUpdateDeviceConfig's memory case: the
// device at the same address is replaced.
func updateMemoryConfig(def *conf.Domain, dev *conf.RawDevice) error {
	postparse.MemoryDeviceUnits(dev)
	old := findMemory(def, dev)
	if old == nil {
		return errQEMU(virerr.ErrInvalidArg, "memory not found")
	}
	req := memValue(dev, "target", "requested", "")
	conf.SetDeviceValue(old, "target/requested", req)
	if req != "" {
		conf.SetDeviceValue(old, "target/requested/@unit", "KiB")
	}
	return nil
}

// findMemoryByDef is virDomainMemoryFindByDef: the memory device of def
// that dev describes (its address and alias when given, always its model,
// node and sizes).
func findMemoryByDef(def *conf.Domain, dev *conf.RawDevice) *conf.RawDevice {
	postparse.MemoryDeviceUnits(dev)
	hasAddr := conf.DeviceAddress(dev).Type != ""
	alias := memValue(dev, "alias", "name")
	for _, m := range def.RawDevicesOf("memory") {
		if hasAddr && !sameMemAddress(m, dev) {
			continue
		}
		if alias != "" && memValue(m, "alias", "name") != alias {
			continue
		}
		same := memValue(m, "model") == memValue(dev, "model")
		for _, p := range []string{"node", "size", "block", "requested"} {
			same = same && memValue(m, "target", p, "") == memValue(dev, "target", p, "")
		}
		if same {
			return m
		}
	}
	return nil
}

func sameMemAddress(a, b *conf.RawDevice) bool {
	x, y := conf.DeviceAddress(a), conf.DeviceAddress(b)
	return x.Type == y.Type && x.Domain == y.Domain && x.Bus == y.Bus && x.Slot == y.Slot && x.Function == y.Function &&
		memValue(a, "address", "slot") == memValue(b, "address", "slot")
}

// detachMemoryConfig is qemuDomainDetachDeviceConfig's memory case.
func detachMemoryConfig(def *conf.Domain, dev *conf.RawDevice) error {
	m := findMemoryByDef(def, dev)
	if m == nil {
		return errQEMU(virerr.ErrDeviceMissing, "matching memory device was not found")
	}
	size, _ := strconv.ParseUint(memValue(m, "target", "size", ""), 10, 64)
	if err := def.RemoveDevice(m); err != nil {
		return err
	}
	def.Memory -= min(size, def.Memory)
	def.CurrentMemory -= min(size, def.CurrentMemory)
	return nil
}

// memoryUnplugAlias is qemuDomainDetachPrepMemory: the alias of the live
// device dev describes.
func memoryUnplugAlias(live *conf.Domain, dev *conf.RawDevice) (string, error) {
	m := findMemoryByDef(live, dev)
	if m == nil {
		return "", errQEMU(virerr.ErrDeviceMissing, "model '%s' memory device not present in the domain configuration", memValue(dev, "model"))
	}
	return memValue(m, "alias", "name"), nil
}

// removeMemoryDevice is qemuDomainRemoveMemoryDevice, once QEMU has
// unplugged it: its backend goes, <memory> shrinks, the balloon's size
// is read again.
func (d *Driver) removeMemoryDevice(v *vm, mon monitor, alias string) {
	ctx, cancel := context.WithTimeout(hotplugCtx(), 10*time.Second)
	defer cancel()
	if err := mon.Execute(ctx, "object-del", map[string]string{"id": "mem" + alias}, nil); err != nil {
		d.log.Warn("object-del", "domain", v.name, "object", "mem"+alias, "err", err)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		for _, m := range next.RawDevicesOf("memory") {
			if memValue(m, "alias", "name") != alias {
				continue
			}
			size, _ := strconv.ParseUint(memValue(m, "target", "size", ""), 10, 64)
			if next.RemoveDevice(m) == nil {
				next.Memory -= min(size, next.Memory)
			}
			return
		}
	})
	if b, err := qmp.QueryBalloon(ctx, mon); err == nil && b.Actual > 0 {
		d.modifyLive(v, func(next *conf.Domain) { next.CurrentMemory = b.Actual / 1024 })
	}
}

// liveMemoryByAlias tells whether alias names a memory device of live.
func liveMemoryByAlias(live *conf.Domain, alias string) bool {
	for _, m := range live.RawDevicesOf("memory") {
		if memValue(m, "alias", "name") == alias {
			return true
		}
	}
	return false
}
