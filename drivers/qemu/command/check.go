package command

import (
	"slices"
	"strings"

	"govirt/conf"
)

// addrAttrs are the <address> attributes of the address types the builder
// honours (pci, drive, virtio-serial, usb, isa).
var addrAttrs = []string{"type", "domain", "bus", "slot", "function", "multifunction",
	"controller", "target", "unit", "port", "iobase"}

// allowed maps every element path the builder honours (below <domain>,
// "" being <domain> itself) to the attributes it honours there. An
// element or attribute present in a definition but absent here makes
// Build fail: nothing is silently ignored. Values of the attributes
// listed are checked where they are used.
//
// Live-only content the builder itself writes (alias, address, node
// names, root-port targets) is listed too, so a live definition can be
// built again.
var allowed = map[string][]string{
	"":              {"type", "id"},
	"name":          nil,
	"uuid":          nil,
	"title":         nil,
	"description":   nil,
	"metadata":      nil,
	"memory":        {"unit"},
	"currentMemory": {"unit"},
	"vcpu":          {"placement", "current"},

	"os":         nil,
	"os/type":    {"arch", "machine"},
	"os/boot":    {"dev"},
	"os/kernel":  nil,
	"os/initrd":  nil,
	"os/cmdline": nil,
	"os/bios":    {"useserial", "rebootTimeout"},

	"features":        nil,
	"features/acpi":   nil,
	"features/apic":   nil,
	"features/pae":    nil,
	"features/vmport": {"state"},

	"cpu":          {"mode", "match", "check"},
	"cpu/model":    {"fallback"},
	"cpu/topology": {"sockets", "dies", "cores", "threads"},
	"cpu/feature":  {"policy", "name"},

	"clock":       {"offset"},
	"clock/timer": {"name", "tickpolicy", "present"},

	"on_poweroff": nil,
	"on_reboot":   nil,
	"on_crash":    nil,

	"pm":                 nil,
	"pm/suspend-to-mem":  {"enabled"},
	"pm/suspend-to-disk": {"enabled"},

	"devices":          nil,
	"devices/emulator": nil,

	"devices/disk":                                                    {"type", "device"},
	"devices/disk/driver":                                             {"name", "type", "discard", "cache", "io"},
	"devices/disk/source":                                             {"file", "dev", "index"},
	"devices/disk/source/privateData":                                 nil,
	"devices/disk/source/privateData/nodenames":                       nil,
	"devices/disk/source/privateData/nodenames/nodename":              {"type", "name"},
	"devices/disk/backingStore":                                       {"type", "index"},
	"devices/disk/backingStore/format":                                {"type"},
	"devices/disk/backingStore/source":                                {"file", "dev", "index"},
	"devices/disk/backingStore/source/privateData":                    nil,
	"devices/disk/backingStore/source/privateData/nodenames":          nil,
	"devices/disk/backingStore/source/privateData/nodenames/nodename": {"type", "name"},
	"devices/disk/target":                                             {"dev", "bus", "tray"},
	"devices/disk/readonly":                                           nil,
	"devices/disk/shareable":                                          nil,
	"devices/disk/serial":                                             nil,
	"devices/disk/boot":                                               {"order"},
	"devices/disk/alias":                                              {"name"},
	"devices/disk/address":                                            addrAttrs,

	"devices/controller":         {"type", "index", "model", "ports"},
	"devices/controller/model":   {"name"},
	"devices/controller/master":  {"startport"},
	"devices/controller/target":  {"chassis", "port"},
	"devices/controller/alias":   {"name"},
	"devices/controller/address": addrAttrs,

	"devices/interface":         {"type"},
	"devices/interface/mac":     {"address"},
	"devices/interface/source":  {"bridge", "network"},
	"devices/interface/target":  {"dev", "managed"},
	"devices/interface/model":   {"type"},
	"devices/interface/boot":    {"order"},
	"devices/interface/alias":   {"name"},
	"devices/interface/address": addrAttrs,

	"devices/serial":              {"type"},
	"devices/serial/source":       {"path", "mode"},
	"devices/serial/target":       {"type", "port"},
	"devices/serial/target/model": {"name"},
	"devices/serial/alias":        {"name"},
	"devices/console":             {"type", "tty"},
	"devices/console/source":      {"path", "mode"},
	"devices/console/target":      {"type", "port"},
	"devices/console/alias":       {"name"},
	"devices/channel":             {"type"},
	"devices/channel/source":      {"path", "mode"},
	"devices/channel/target":      {"type", "name", "state"},
	"devices/channel/alias":       {"name"},
	"devices/channel/address":     addrAttrs,

	"devices/input":         {"type", "bus"},
	"devices/input/alias":   {"name"},
	"devices/input/address": addrAttrs,

	"devices/graphics":           {"type", "port", "tlsPort", "autoport", "listen", "socket", "passwd"},
	"devices/graphics/listen":    {"type", "address", "socket"},
	"devices/graphics/image":     {"compression"},
	"devices/graphics/jpeg":      {"compression"},
	"devices/graphics/zlib":      {"compression"},
	"devices/graphics/playback":  {"compression"},
	"devices/graphics/streaming": {"mode"},

	"devices/sound":         {"model"},
	"devices/sound/codec":   {"type"},
	"devices/sound/audio":   {"id"},
	"devices/sound/alias":   {"name"},
	"devices/sound/address": addrAttrs,

	"devices/redirdev":         {"bus", "type"},
	"devices/redirdev/alias":   {"name"},
	"devices/redirdev/address": addrAttrs,

	"devices/audio": {"id", "type"},

	"devices/video":         nil,
	"devices/video/model":   {"type", "vram", "heads", "primary", "ram", "vgamem", "vram64"},
	"devices/video/alias":   {"name"},
	"devices/video/address": addrAttrs,

	"devices/memballoon":         {"model"},
	"devices/memballoon/alias":   {"name"},
	"devices/memballoon/stats":   {"period"},
	"devices/memballoon/address": addrAttrs,

	"devices/watchdog":         {"model", "action"},
	"devices/watchdog/alias":   {"name"},
	"devices/watchdog/address": addrAttrs,

	"devices/rng":         {"model"},
	"devices/rng/backend": {"model"},
	"devices/rng/alias":   {"name"},
	"devices/rng/address": addrAttrs,

	"devices/panic":         {"model"},
	"devices/panic/address": addrAttrs,

	// libvirt's QEMU namespace (qemuns.go); the prefix is the one the
	// document binds to its URI, normalised to "qemu" by checkElem.
	"qemu:commandline":          nil,
	"qemu:commandline/qemu:arg": {"value"},
	"qemu:commandline/qemu:env": {"name", "value"},
}

// checkElements refuses any element or attribute of def that the builder
// does not honour.
func checkElements(def *conf.Domain) error {
	t := def.Tree()
	return checkElem(t, "", qemuPrefix(t))
}

// checkElem checks e at path; nsPrefix is the prefix the document gives
// libvirt's QEMU namespace, written as "qemu" in the paths of allowed.
func checkElem(e *conf.Element, path, nsPrefix string) error {
	attrs, ok := allowed[path]
	if !ok {
		return unsupportedElem(path)
	}
	for _, a := range e.Attrs() {
		// Namespace declarations only matter to the elements that use
		// them, which are checked themselves.
		if a == "xmlns" || strings.HasPrefix(a, "xmlns:") {
			continue
		}
		if !slices.Contains(attrs, a) {
			where := path
			if where == "" {
				where = "domain"
			}
			return unsupported("attribute '%s' of element <%s> is not supported by govirt's QEMU driver", a, where)
		}
	}
	if path == "metadata" {
		return nil // the application's own data
	}
	for _, k := range e.Children("") {
		p := k.Name()
		if rest, ok := strings.CutPrefix(p, nsPrefix+":"); ok && nsPrefix != "" {
			p = "qemu:" + rest
		}
		if path != "" {
			p = path + "/" + p
		}
		// A backing chain nests to any depth; every level is the same.
		for strings.Contains(p, "backingStore/backingStore") {
			p = strings.Replace(p, "backingStore/backingStore", "backingStore", 1)
		}
		if err := checkElem(k, p, nsPrefix); err != nil {
			return err
		}
	}
	return nil
}
