package command

import (
	"encoding/json"

	"govirt/conf"
)

// MemoryHotplug is what adding one memory device (<memory model='dimm|
// nvdimm|virtio-mem|virtio-pmem'>) to a running guest takes
// (qemuDomainAttachMemory): the backend object, the device, and the
// device as the live definition records it (alias, DIMM slot or PCI
// address).
type MemoryHotplug struct {
	Backend json.RawMessage // object-add arguments
	Device  json.RawMessage // device_add arguments
	Record  *conf.RawDevice // the device with its alias and address
	Alias   string
	SizeKiB uint64
}

// HotplugMemory builds the hot-plug of dev into the running guest def
// with the same code as the command line, so the checks of a memory
// device present at start (slots, maxMemory, NUMA node, alignment) apply
// as well. p gives the host (huge pages, the memory backing directory).
func HotplugMemory(def *conf.Domain, dev *conf.RawDevice, caps Caps, p Paths) (*MemoryHotplug, error) {
	b := hotplugBuilder(def, caps)
	b.p = p
	model := rawDevAttr(dev, "model")
	work := dev
	if (model == "virtio-mem" || model == "virtio-pmem") && conf.DeviceAddress(work).Type == "" {
		a, err := b.hotplugPCI("memory", true)
		if err != nil {
			return nil, err
		}
		conf.SetDeviceAddress(work, a)
	}
	if err := b.def.AddDevice(work); err != nil {
		return nil, err
	}
	devs, err := b.memoryDevices()
	if err != nil {
		return nil, err
	}
	if len(devs) == 0 {
		return nil, internalError("the memory device to add is missing")
	}
	d := devs[len(devs)-1]
	props, _, err := b.backendProps("mem"+d.alias, &d.memDev, true, false)
	if err != nil {
		return nil, err
	}
	o, err := b.memDeviceProps(d)
	if err != nil {
		return nil, err
	}
	return &MemoryHotplug{Backend: json.RawMessage(props.String()), Device: json.RawMessage(o.String()),
		Record: d.raw, Alias: d.alias, SizeKiB: d.sizeKiB}, nil
}

func rawDevAttr(dev *conf.RawDevice, name string) string {
	e := conf.DeviceElement(dev)
	if e == nil {
		return ""
	}
	v, _ := e.Attr(name)
	return v
}
