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
	"":                     {"type", "id"},
	"name":                 nil,
	"uuid":                 nil,
	"title":                nil,
	"description":          nil,
	"metadata":             nil,
	"memory":               {"unit"},
	"currentMemory":        {"unit"},
	"vcpu":                 {"placement", "current"},
	"memoryBacking":        nil,
	"memoryBacking/source": {"type"},
	"memoryBacking/access": {"mode"},

	"os":         nil,
	"os/type":    {"arch", "machine"},
	"os/boot":    {"dev"},
	"os/kernel":  nil,
	"os/initrd":  nil,
	"os/cmdline": nil,

	"features":        nil,
	"features/acpi":   nil,
	"features/apic":   nil,
	"features/pae":    nil,
	"features/vmport": {"state"},
	"features/ioapic": {"driver"},

	"cpu":          {"mode", "match", "check"},
	"cpu/model":    {"fallback"},
	"cpu/topology": {"sockets", "dies", "cores", "threads"},

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

	"devices/disk":                                                    {"type", "device", "model"},
	"devices/disk/driver":                                             append([]string{"name", "type", "discard", "cache", "io"}, virtioOptNames()...),
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
	"devices/controller/driver":  virtioOptNames(),
	"devices/controller/target":  {"chassis", "port"},
	"devices/controller/alias":   {"name"},
	"devices/controller/address": addrAttrs,

	"devices/interface":                  {"type", "trustGuestRxFilters"},
	"devices/interface/mac":              {"address"},
	"devices/interface/source":           {"bridge", "network", "type", "path", "mode", "address", "port"},
	"devices/interface/source/local":     {"address", "port"},
	"devices/interface/source/reconnect": {"enabled", "timeout"},
	"devices/interface/target":           {"dev", "managed"},
	"devices/interface/model":            {"type"},
	"devices/interface/driver": append([]string{"name", "txmode", "ioeventfd", "event_idx", "queues",
		"rx_queue_size", "tx_queue_size", "rss", "rss_hash_report"}, virtioOptNames()...),
	"devices/interface/driver/host":  {"csum", "gso", "tso4", "tso6", "ecn", "ufo", "mrg_rxbuf"},
	"devices/interface/driver/guest": {"csum", "tso4", "tso6", "ecn", "ufo"},
	"devices/interface/mtu":          {"size"},
	"devices/interface/rom":          {"bar", "file", "enabled"},
	"devices/interface/tune":         nil,
	"devices/interface/tune/sndbuf":  nil,
	"devices/interface/ip":           {"address", "family", "prefix"},
	"devices/interface/boot":         {"order"},
	"devices/interface/alias":        {"name"},
	"devices/interface/address":      addrAttrs,

	"devices/filesystem":                    {"type", "accessmode", "model", "multidevs", "fmode", "dmode"},
	"devices/filesystem/driver":             append([]string{"type", "wrpolicy", "queue"}, virtioOptNames()...),
	"devices/filesystem/source":             {"dir", "socket"},
	"devices/filesystem/target":             {"dir"},
	"devices/filesystem/readonly":           nil,
	"devices/filesystem/binary":             {"path", "xattr"},
	"devices/filesystem/binary/cache":       {"mode"},
	"devices/filesystem/binary/sandbox":     {"mode"},
	"devices/filesystem/binary/lock":        {"posix", "flock"},
	"devices/filesystem/binary/thread_pool": {"size"},
	"devices/filesystem/boot":               {"order"},
	"devices/filesystem/alias":              {"name"},
	"devices/filesystem/address":            addrAttrs,

	"devices/iommu":         {"model"},
	"devices/iommu/driver":  {"intremap", "caching_mode", "eim", "iotlb", "aw_bits"},
	"devices/iommu/alias":   {"name"},
	"devices/iommu/address": addrAttrs,

	"devices/vsock":         {"model"},
	"devices/vsock/cid":     {"auto", "address"},
	"devices/vsock/driver":  virtioOptNames(),
	"devices/vsock/alias":   {"name"},
	"devices/vsock/address": addrAttrs,

	"devices/hostdev":                {"mode", "type", "managed", "model", "display", "ramfb"},
	"devices/hostdev/source":         {"guestReset"},
	"devices/hostdev/source/address": {"domain", "bus", "slot", "function", "device", "uuid"},
	"devices/hostdev/driver":         {"name"},
	"devices/hostdev/rom":            {"bar", "file", "enabled"},
	"devices/hostdev/boot":           {"order"},
	"devices/hostdev/alias":          {"name"},
	"devices/hostdev/address":        addrAttrs,

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

	"devices/input":         {"type", "bus", "model"},
	"devices/input/driver":  virtioOptNames(),
	"devices/input/source":  {"evdev"},
	"devices/input/alias":   {"name"},
	"devices/input/address": addrAttrs,

	"devices/graphics":        {"type", "port", "autoport", "listen", "socket", "passwd"},
	"devices/graphics/listen": {"type", "address", "socket"},

	"devices/audio": {"id", "type"},

	"devices/video":         nil,
	"devices/video/model":   {"type", "vram", "heads", "primary"},
	"devices/video/alias":   {"name"},
	"devices/video/address": addrAttrs,

	"devices/memballoon":         {"model", "autodeflate", "freePageReporting"},
	"devices/memballoon/driver":  virtioOptNames(),
	"devices/memballoon/alias":   {"name"},
	"devices/memballoon/address": addrAttrs,

	"devices/watchdog":         {"model", "action"},
	"devices/watchdog/alias":   {"name"},
	"devices/watchdog/address": addrAttrs,

	"devices/rng":         {"model"},
	"devices/rng/backend": {"model"},
	"devices/rng/driver":  virtioOptNames(),
	"devices/rng/alias":   {"name"},
	"devices/rng/address": addrAttrs,

	"devices/panic":         {"model"},
	"devices/panic/address": addrAttrs,
}

// checkElements refuses any element or attribute of def that the builder
// does not honour.
func checkElements(def *conf.Domain) error {
	return checkElem(def.Tree(), "")
}

func checkElem(e *conf.Element, path string) error {
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
		if path != "" {
			p = path + "/" + p
		}
		// A backing chain nests to any depth; every level is the same.
		for strings.Contains(p, "backingStore/backingStore") {
			p = strings.Replace(p, "backingStore/backingStore", "backingStore", 1)
		}
		if err := checkElem(k, p); err != nil {
			return err
		}
	}
	return nil
}
