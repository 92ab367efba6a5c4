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

	"iothreads":            {},
	"iothreadids":          nil,
	"iothreadids/iothread": {"id", "thread_pool_min", "thread_pool_max"},
	"defaultiothread":      {"thread_pool_min", "thread_pool_max"},

	"os":          nil,
	"os/type":     {"arch", "machine"},
	"os/boot":     {"dev"},
	"os/bootmenu": {"enable", "timeout"},
	"os/bios":     {"rebootTimeout"},
	"os/kernel":   nil,
	"os/initrd":   nil,
	"os/cmdline":  nil,

	"features":        nil,
	"features/acpi":   nil,
	"features/apic":   nil,
	"features/pae":    nil,
	"features/vmport": {"state"},

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

	"devices/disk": {"type", "device", "model", "snapshot"},
	"devices/disk/driver": {"name", "type", "discard", "cache", "io", "error_policy", "rerror_policy",
		"copy_on_read", "detect_zeroes", "ioeventfd", "event_idx", "queues", "queue_size",
		"iommu", "ats", "packed", "page_per_vq", "iothread"},
	"devices/disk/driver/metadata_cache":                              nil,
	"devices/disk/driver/metadata_cache/max_size":                     {"unit"},
	"devices/disk/backingStore/format/metadata_cache":                 nil,
	"devices/disk/backingStore/format/metadata_cache/max_size":        {"unit"},
	"devices/disk/source":                                             {"file", "dev", "dir", "index", "type", "managed", "namespace", "protocol", "name", "query"},
	"devices/disk/source/address":                                     {"domain", "bus", "slot", "function"},
	"devices/disk/source/slices":                                      nil,
	"devices/disk/source/slices/slice":                                {"type", "offset", "size"},
	"devices/disk/backingStore/source/slices":                         nil,
	"devices/disk/backingStore/source/slices/slice":                   {"type", "offset", "size"},
	"devices/disk/auth":                                               {"username"},
	"devices/disk/auth/secret":                                        {"type", "usage", "uuid"},
	"devices/disk/encryption":                                         {"format", "engine"},
	"devices/disk/encryption/secret":                                  {"type", "usage", "uuid"},
	"devices/disk/source/host":                                        {"name", "port", "transport", "socket"},
	"devices/disk/source/snapshot":                                    {"name"},
	"devices/disk/source/config":                                      {"file"},
	"devices/disk/source/initiator":                                   nil,
	"devices/disk/source/initiator/iqn":                               {"name"},
	"devices/disk/source/ssl":                                         {"verify"},
	"devices/disk/source/cookies":                                     nil,
	"devices/disk/source/cookies/cookie":                              {"name"},
	"devices/disk/source/readahead":                                   {"size"},
	"devices/disk/source/timeout":                                     {"seconds"},
	"devices/disk/source/identity":                                    {"user", "group"},
	"devices/disk/source/auth":                                        {"username"},
	"devices/disk/source/auth/secret":                                 {"type", "usage", "uuid"},
	"devices/disk/source/encryption":                                  {"format", "engine"},
	"devices/disk/source/encryption/secret":                           {"type", "usage", "uuid"},
	"devices/disk/backingStore/source/host":                           {"name", "port", "transport", "socket"},
	"devices/disk/backingStore/source/snapshot":                       {"name"},
	"devices/disk/backingStore/source/config":                         {"file"},
	"devices/disk/backingStore/source/initiator":                      nil,
	"devices/disk/backingStore/source/initiator/iqn":                  {"name"},
	"devices/disk/backingStore/source/ssl":                            {"verify"},
	"devices/disk/backingStore/source/cookies":                        nil,
	"devices/disk/backingStore/source/cookies/cookie":                 {"name"},
	"devices/disk/backingStore/source/readahead":                      {"size"},
	"devices/disk/backingStore/source/timeout":                        {"seconds"},
	"devices/disk/backingStore/source/identity":                       {"user", "group"},
	"devices/disk/backingStore/source/auth":                           {"username"},
	"devices/disk/backingStore/source/auth/secret":                    {"type", "usage", "uuid"},
	"devices/disk/backingStore/source/encryption":                     {"format", "engine"},
	"devices/disk/backingStore/source/encryption/secret":              {"type", "usage", "uuid"},
	"devices/disk/iotune":                                             nil,
	"devices/disk/iotune/total_bytes_sec":                             nil,
	"devices/disk/iotune/read_bytes_sec":                              nil,
	"devices/disk/iotune/write_bytes_sec":                             nil,
	"devices/disk/iotune/total_iops_sec":                              nil,
	"devices/disk/iotune/read_iops_sec":                               nil,
	"devices/disk/iotune/write_iops_sec":                              nil,
	"devices/disk/iotune/total_bytes_sec_max":                         nil,
	"devices/disk/iotune/read_bytes_sec_max":                          nil,
	"devices/disk/iotune/write_bytes_sec_max":                         nil,
	"devices/disk/iotune/total_iops_sec_max":                          nil,
	"devices/disk/iotune/read_iops_sec_max":                           nil,
	"devices/disk/iotune/write_iops_sec_max":                          nil,
	"devices/disk/iotune/size_iops_sec":                               nil,
	"devices/disk/iotune/group_name":                                  nil,
	"devices/disk/iotune/total_bytes_sec_max_length":                  nil,
	"devices/disk/iotune/read_bytes_sec_max_length":                   nil,
	"devices/disk/iotune/write_bytes_sec_max_length":                  nil,
	"devices/disk/iotune/total_iops_sec_max_length":                   nil,
	"devices/disk/iotune/read_iops_sec_max_length":                    nil,
	"devices/disk/iotune/write_iops_sec_max_length":                   nil,
	"devices/disk/wwn":                                                nil,
	"devices/disk/vendor":                                             nil,
	"devices/disk/product":                                            nil,
	"devices/disk/blockio":                                            {"logical_block_size", "physical_block_size"},
	"devices/disk/geometry":                                           {"cyls", "heads", "secs", "trans"},
	"devices/disk/source/privateData":                                 nil,
	"devices/disk/source/privateData/nodenames":                       nil,
	"devices/disk/source/privateData/nodenames/nodename":              {"type", "name"},
	"devices/disk/backingStore":                                       {"type", "index"},
	"devices/disk/backingStore/format":                                {"type"},
	"devices/disk/backingStore/source":                                {"file", "dev", "index", "protocol", "name", "query"},
	"devices/disk/backingStore/source/privateData":                    nil,
	"devices/disk/backingStore/source/privateData/nodenames":          nil,
	"devices/disk/backingStore/source/privateData/nodenames/nodename": {"type", "name"},
	"devices/disk/target":                                             {"dev", "bus", "tray", "rotation_rate", "removable"},
	"devices/disk/readonly":                                           nil,
	"devices/disk/shareable":                                          nil,
	"devices/disk/serial":                                             nil,
	"devices/disk/boot":                                               {"order"},
	"devices/disk/alias":                                              {"name"},
	"devices/disk/address":                                            addrAttrs,

	"devices/controller":         {"type", "index", "model", "ports"},
	"devices/controller/model":   {"name"},
	"devices/controller/driver":  {"queues", "cmd_per_lun", "max_sectors", "ioeventfd", "iommu", "ats", "packed", "page_per_vq", "iothread"},
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

	"devices/graphics":        {"type", "port", "autoport", "listen", "socket", "passwd"},
	"devices/graphics/listen": {"type", "address", "socket"},

	"devices/audio": {"id", "type"},

	"devices/video":         nil,
	"devices/video/model":   {"type", "vram", "heads", "primary"},
	"devices/video/alias":   {"name"},
	"devices/video/address": addrAttrs,

	"devices/memballoon":         {"model"},
	"devices/memballoon/alias":   {"name"},
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
