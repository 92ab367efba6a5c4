package command

import (
	"strconv"

	"govirt/conf"
)

// pciModelNames are the QEMU devices a PCI controller model may be
// (virDomainControllerPCIModelName), the first being the default libvirt
// fills in at post-parse. The roots are built into the machine.
var pciModelNames = map[string][]string{
	"pci-bridge":                  {"pci-bridge"},
	"dmi-to-pci-bridge":           {"i82801b11-bridge"},
	"pcie-root-port":              {"pcie-root-port", "ioh3420"},
	"pcie-switch-upstream-port":   {"x3130-upstream"},
	"pcie-switch-downstream-port": {"xio3130-downstream"},
	"pci-expander-bus":            {"pxb"},
	"pcie-expander-bus":           {"pxb-pcie"},
	"pcie-to-pci-bridge":          {"pcie-pci-bridge"},
	"pci-root":                    nil,
	"pcie-root":                   nil,
}

// pciCtlOpt is one option of a PCI controller's <target> as libvirt's
// qemuValidateDomainDeviceDefControllerPCI checks it: -1 when absent.
type pciCtlOpts struct {
	chassisNr, chassis, port, busNr, numaNode int
	hotplug                                   string
}

// pciControllerOpts reads and checks the <target> options of c.
func pciControllerOpts(c *conf.Controller) (pciCtlOpts, error) {
	o := pciCtlOpts{-1, -1, -1, -1, -1, ""}
	t := child(conf.DeviceElement(c), "target")
	num := func(name string, max uint64) (int, error) {
		v := attr(t, name)
		if v == "" {
			return -1, nil
		}
		n, err := strconv.ParseUint(v, 0, 64)
		if err != nil || n > max {
			return -1, xmlError("Invalid value for attribute '%s' in element 'target': '%s'.", name, v)
		}
		return int(n), nil
	}
	var err error
	if o.chassisNr, err = num("chassisNr", 255); err != nil {
		return o, err
	}
	if o.chassis, err = num("chassis", 255); err != nil {
		return o, err
	}
	if o.port, err = num("port", 255); err != nil {
		return o, err
	}
	if o.busNr, err = num("busNr", 254); err != nil {
		return o, err
	}
	if n := child(t, "node"); n != nil {
		v, err := strconv.Atoi(n.Text())
		if err != nil || v < 0 {
			return o, xmlError("Invalid value for element 'node' in controller 'target': '%s'.", n.Text())
		}
		o.numaNode = v
	}
	o.hotplug = attr(t, "hotplug")
	if o.hotplug != "" && o.hotplug != "on" && o.hotplug != "off" {
		return o, xmlError("Invalid value for attribute 'hotplug' in element 'target': '%s'. Expected on/off", o.hotplug)
	}
	return o, nil
}

// pciControllerObj is the -device of PCI controller c, nil for the
// machine's own roots, written as qemuBuildControllerPCIDevProps does
// after qemuValidateDomainDeviceDefControllerPCI's checks.
func (b *builder) pciControllerObj(c *conf.Controller) (obj, error) {
	names, known := pciModelNames[c.Model]
	if !known {
		return nil, unsupportedValue("devices/controller", "model", c.Model)
	}
	modelName := attr(child(conf.DeviceElement(c), "model"), "name")
	if modelName == "" && len(names) > 0 {
		modelName = names[0]
	}
	o, err := pciControllerOpts(c)
	if err != nil {
		return nil, err
	}
	shown := modelName
	if shown == "" {
		shown = "none"
	}
	invalid := func(opt string) error {
		return unsupported("Option '%s' is not valid for PCI controller with index '%d', model '%s' and modelName '%s'",
			opt, c.Index, c.Model, shown)
	}
	if len(names) == 0 {
		if modelName != "" {
			return nil, invalid("modelName")
		}
	} else if modelName != names[0] && (len(names) < 2 || modelName != names[1]) {
		return nil, unsupported("Option '%s' has invalid value for PCI controller with index '%d', model '%s' and modelName '%s'",
			"modelName", c.Index, c.Model, shown)
	}
	root := c.Model == "pci-root" || c.Model == "pcie-root"
	if root && c.Index != 0 {
		return nil, unsupported("Index for '%s' controllers must be 0", c.Model)
	}
	if !root && c.Index == 0 {
		return nil, unsupported("Index for '%s' controllers must be > 0", c.Model)
	}
	pxb := c.Model == "pci-expander-bus" || c.Model == "pcie-expander-bus"
	port := c.Model == "pcie-root-port" || c.Model == "pcie-switch-downstream-port"
	missing := func(opt string) error {
		return internalError("Required option '%s' is not set for PCI controller with index '%d', model '%s' and modelName '%s'",
			opt, c.Index, c.Model, shown)
	}
	switch {
	case pxb && o.busNr == -1:
		return nil, missing("busNr")
	case !pxb && o.busNr != -1:
		return nil, invalid("busNr")
	case !pxb && o.numaNode != -1:
		return nil, invalid("numaNode")
	case c.Model == "pci-bridge" && o.chassisNr == -1:
		return nil, missing("chassisNr")
	case c.Model != "pci-bridge" && o.chassisNr != -1:
		return nil, invalid("chassisNr")
	case port && o.chassis == -1:
		return nil, missing("chassis")
	case port && o.port == -1:
		return nil, missing("port")
	case !port && o.chassis != -1:
		return nil, invalid("chassis")
	case !port && o.port != -1:
		return nil, invalid("port")
	case o.hotplug != "" && !port && c.Model != "pci-root":
		return nil, invalid("hotplug")
	}
	if root {
		return nil, nil
	}
	if b.knowsTypes() && !b.caps.HasType(modelName) {
		return nil, unsupported("The '%s' device is not supported by this QEMU binary", modelName)
	}
	d := obj{}.set("driver", modelName)
	switch {
	case c.Model == "pci-bridge":
		d = d.set("chassis_nr", o.chassisNr).set("id", c.Alias)
	case pxb:
		d = d.set("bus_nr", o.busNr).set("id", c.Alias)
		if o.numaNode != -1 {
			d = d.set("numa_node", o.numaNode)
		}
	case port:
		d = d.set("port", o.port).set("chassis", o.chassis).set("id", c.Alias)
		if o.hotplug != "" {
			d = d.set("hotplug", o.hotplug == "on")
		}
	default:
		d = d.set("id", c.Alias)
	}
	return b.pciProps(d, c.Address), nil
}
