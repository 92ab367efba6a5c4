package conf

import (
	"strconv"
	"strings"

	"govirt/uuid"
	"govirt/virerr"
)

// ParseDomain reads a <domain> document.
func ParseDomain(data []byte, flags ParseFlags) (*Domain, error) {
	root, err := parseRoot(data, "domain", virerr.FromDomain, flags)
	if err != nil {
		return nil, err
	}
	return domainFromTree(root, flags)
}

// parseRoot parses data, checks the root element name and, with
// ParseValidate, the schema.
// docNames are the names libvirt's parsers give each kind of document in
// syntax errors ("(domain_definition):3: ...").
var docNames = map[string]string{
	"domain":           "(domain_definition)",
	"network":          "(network_definition)",
	"pool":             "(storage_pool_definition)",
	"volume":           "(storage_volume_definition)",
	"domainsnapshot":   "(domain_snapshot)",
	"interface":        "(interface_definition)",
	"domaincheckpoint": "(domain_checkpoint)",
	"device":           "(node_device_definition)",
}

func parseRoot(data []byte, want string, from virerr.Domain, flags ParseFlags) (*node, error) {
	root, err := parseTree(data, from, docNames[want])
	if err != nil {
		return nil, err
	}
	if root.name != want {
		// virXMLParse's check, reported from its own file (VIR_FROM_XML).
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "expecting root element of '%s', not '%s'", want, root.name)
	}
	if flags&ParseValidate != 0 {
		if err := validateTree(root, want, from); err != nil {
			return nil, err
		}
	}
	return root, nil
}

func domainFromTree(root *node, flags ParseFlags) (*Domain, error) {
	d := &Domain{x: root, ID: -1, Type: root.attr("type")}
	if flags&ParseLive != 0 {
		if s, ok := root.get("@id"); ok {
			id, err := strconv.Atoi(s)
			if err != nil || id < -1 {
				return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute 'id' in element 'domain': '%s'.", s)
			}
			d.ID = id
		}
	}
	name, ok := root.get("name")
	if !ok || name == "" {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrNoName, "")
	}
	if strings.Contains(name, "/") {
		// virDomainDefPostParseCheckFeatures: names become file names.
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "name %s cannot contain '/'", name)
	}
	d.Name = name
	if err := checkBitmaps(root); err != nil {
		return nil, err
	}
	canonicalCPUSets(root)
	if err := canonicalNUMA(root); err != nil {
		return nil, err
	}
	var err error
	if d.UUID, err = parseUUIDElem(root, virerr.FromDomain, virerr.ErrInternalError); err != nil {
		return nil, err
	}
	d.GenID = root.str("genid")
	d.Title = root.str("title")
	d.Description = root.str("description")

	if d.MaxMemory, err = memoryKiB(root, "maxMemory"); err != nil {
		return nil, err
	}
	d.MaxMemSlots = uint(root.uintAt("maxMemory/@slots"))
	if d.Memory, err = memoryKiB(root, "memory"); err != nil {
		return nil, err
	}
	if d.CurrentMemory, err = memoryKiB(root, "currentMemory"); err != nil {
		return nil, err
	}
	if d.CurrentMemory == 0 {
		d.CurrentMemory = d.Memory
	}

	d.VCPUs = 1
	if s, ok := root.get("vcpu"); ok {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "maximum vcpus count must be an integer")
		}
		d.VCPUs = uint(v)
	}
	d.CurrentVCPUs = d.VCPUs
	if s, ok := root.get("vcpu/@current"); ok {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "current vcpus count must be an integer")
		}
		d.CurrentVCPUs = uint(v)
	}
	d.VCPUPlacement = root.str("vcpu/@placement")
	d.CPUSet = root.str("vcpu/@cpuset")

	os := root.child("os")
	d.OS = OS{
		Type:    os.str("type"),
		Arch:    os.str("type/@arch"),
		Machine: os.str("type/@machine"),
		Loader:  os.str("loader"),
		Kernel:  os.str("kernel"),
		Initrd:  os.str("initrd"),
		Cmdline: os.str("cmdline"),
	}
	for _, b := range os.childrenNamed("boot") {
		d.OS.Boot = append(d.OS.Boot, b.attr("dev"))
	}
	d.OnPoweroff = root.str("on_poweroff")
	d.OnReboot = root.str("on_reboot")
	d.OnCrash = root.str("on_crash")
	d.ClockOffset = root.str("clock/@offset")
	for _, f := range root.child("features").elems() {
		d.Features = append(d.Features, f.name)
	}
	if c := root.child("cpu"); c != nil {
		d.CPU = &CPU{
			Mode:    c.attr("mode"),
			Match:   c.attr("match"),
			Model:   c.str("model"),
			Sockets: uint(c.uintAt("topology/@sockets")),
			Dies:    uint(c.uintAt("topology/@dies")),
			Cores:   uint(c.uintAt("topology/@cores")),
			Threads: uint(c.uintAt("topology/@threads")),
		}
	}
	devs := root.child("devices")
	if err := checkDevices(devs); err != nil {
		return nil, err
	}
	d.Devices.Emulator = devs.str("emulator")
	for _, n := range devs.elems() {
		if dev := deviceFromNode(n); dev != nil {
			d.Devices.add(dev)
		}
	}
	applyDomainDefaults(d, root)
	return d, nil
}

// parseUUIDElem reads <uuid>, generating one when absent as libvirt does.
func parseUUIDElem(root *node, from virerr.Domain, code virerr.Code) (uuid.UUID, error) {
	s, ok := root.get("uuid")
	if !ok {
		return uuid.New(), nil
	}
	u, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return uuid.UUID{}, virerr.New(from, code, "malformed uuid element")
	}
	return u, nil
}

// putUUID writes u unless the text already there denotes it (libvirt
// accepts spellings without dashes or in upper case).
func putUUID(root *node, u uuid.UUID) {
	if s, ok := root.get("uuid"); ok {
		if cur, err := uuid.Parse(strings.TrimSpace(s)); err == nil && cur == u {
			return
		}
	}
	root.put("uuid", u.String())
}

// memoryKiB reads a scaled memory element (default unit KiB) as KiB,
// rounding up like libvirt; 0 when absent.
func memoryKiB(root *node, name string) (uint64, error) {
	el := root.child(name)
	if el == nil {
		return 0, nil
	}
	val := el.textContent()
	b, err := scaledBytes(val, el.attr("unit"), "KiB")
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown suffix") || strings.HasPrefix(err.Error(), "value too large") {
			return 0, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "%s in element '%s'", err.Error(), name)
		}
		return 0, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value '%s' for element or attribute './%s[1]'", val, name)
	}
	return kibCeil(b), nil
}

// putMemory writes a memory element in libvirt's normal form, unit='KiB'.
func putMemory(root *node, name string, kib uint64) {
	el := root.child(name)
	if el == nil {
		if kib == 0 {
			return
		}
		el = root.ensureChild(name)
	}
	v := strconv.FormatUint(kib, 10)
	if el.attr("unit") != "KiB" {
		el.setAttr("unit", "KiB")
	}
	if el.textContent() != v {
		el.setText(v)
	}
}
