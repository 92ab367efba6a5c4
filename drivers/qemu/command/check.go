package command

import (
	pathpkg "path"
	"slices"
	"strings"

	"govirt/conf"
)

// addrAttrs are the <address> attributes of the address types the builder
// honours (pci, drive, virtio-serial, usb, isa).
var addrAttrs = []string{"type", "domain", "bus", "slot", "function", "multifunction",
	"controller", "target", "unit", "port", "iobase"}

// audioIOAttrs are the attributes of an <audio>'s <input> and <output>,
// all backends' together (each backend reads its own).
var audioIOAttrs = []string{"mixingEngine", "fixedSettings", "voices", "bufferLength", "dev", "bufferCount",
	"serverName", "clientName", "connectPorts", "exactName", "tryPoll", "name", "streamName", "latency"}

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
	"":            {"type", "id"},
	"name":        nil,
	"uuid":        nil,
	"title":       nil,
	"description": nil,
	"metadata":    nil,
	"memory":      {"unit", "dumpCore"},
	"maxMemory":   {"unit", "slots"},

	"memoryBacking":                    nil,
	"memoryBacking/hugepages":          nil,
	"memoryBacking/hugepages/page":     {"size", "unit", "nodeset"},
	"memoryBacking/nosharepages":       nil,
	"memoryBacking/locked":             nil,
	"memoryBacking/source":             {"type"},
	"memoryBacking/access":             {"mode"},
	"memoryBacking/allocation":         {"mode", "threads"},
	"memoryBacking/discard":            nil,
	"numatune":                         nil,
	"perf":                             nil,
	"perf/event":                       {"name", "enabled"},
	"numatune/memory":                  {"mode", "nodeset", "placement"},
	"numatune/memnode":                 {"cellid", "mode", "nodeset"},
	"cpu/numa":                         nil,
	"cpu/numa/cell":                    {"id", "cpus", "memory", "unit", "memAccess", "discard"},
	"cpu/numa/cell/distances":          nil,
	"cpu/numa/cell/distances/sibling":  {"id", "value"},
	"cpu/numa/cell/cache":              {"level", "associativity", "policy"},
	"cpu/numa/cell/cache/size":         {"value", "unit"},
	"cpu/numa/cell/cache/line":         {"value", "unit"},
	"cpu/numa/interconnects":           nil,
	"cpu/numa/interconnects/latency":   {"initiator", "target", "cache", "type", "value"},
	"cpu/numa/interconnects/bandwidth": {"initiator", "target", "cache", "type", "value", "unit"},

	"devices/memory":                   {"model", "access", "discard"},
	"devices/memory/source":            nil,
	"devices/memory/source/nodemask":   nil,
	"devices/memory/source/pagesize":   {"unit"},
	"devices/memory/source/path":       nil,
	"devices/memory/source/pmem":       nil,
	"devices/memory/source/alignsize":  {"unit"},
	"devices/memory/target":            nil,
	"devices/memory/target/size":       {"unit"},
	"devices/memory/target/node":       nil,
	"devices/memory/target/label":      nil,
	"devices/memory/target/label/size": {"unit"},
	"devices/memory/target/readonly":   nil,
	"devices/memory/alias":             {"name"},
	"devices/memory/address":           append([]string{"slot", "base"}, addrAttrs...),
	"devices/memory/target/block":      {"unit"},
	"devices/memory/target/requested":  {"unit"},
	"currentMemory":                    {"unit"},
	"vcpu":                             {"placement", "current", "cpuset"},

	// <idmap> maps container ids; libvirt's QEMU driver accepts and
	// ignores it.
	"idmap":     nil,
	"idmap/uid": {"start", "target", "count"},
	"idmap/gid": {"start", "target", "count"},

	"launchSecurity":                 {"type", "kernelHashes"},
	"launchSecurity/cbitpos":         nil,
	"launchSecurity/reducedPhysBits": nil,
	"launchSecurity/policy":          nil,
	"launchSecurity/dhCert":          nil,
	"launchSecurity/session":         nil,

	"genid":           nil,
	"sysinfo":         {"type"},
	"sysinfo/*":       nil,
	"sysinfo/*/entry": {"name", "file"},
	"sysinfo/entry":   {"name", "file"},
	"os/smbios":       {"mode"},

	// Per-vCPU states (vcpus.go).
	"vcpus":      nil,
	"vcpus/vcpu": {"id", "enabled", "hotpluggable", "order"},

	"iothreads":            nil,
	"iothreadids":          nil,
	"iothreadids/iothread": {"id", "thread_pool_min", "thread_pool_max"},
	"defaultiothread":      {"thread_pool_min", "thread_pool_max"},
	// Pinning (pin.go) and the cgroup tunables (tune.go).
	"cputune":                          nil,
	"cputune/shares":                   nil,
	"cputune/period":                   nil,
	"cputune/quota":                    nil,
	"cputune/global_period":            nil,
	"cputune/global_quota":             nil,
	"cputune/emulator_period":          nil,
	"cputune/emulator_quota":           nil,
	"cputune/iothread_period":          nil,
	"cputune/iothread_quota":           nil,
	"memtune":                          nil,
	"memtune/hard_limit":               {"unit"},
	"memtune/soft_limit":               {"unit"},
	"memtune/swap_hard_limit":          {"unit"},
	"memtune/min_guarantee":            {"unit"},
	"blkiotune":                        nil,
	"blkiotune/weight":                 nil,
	"blkiotune/device":                 nil,
	"blkiotune/device/path":            nil,
	"blkiotune/device/weight":          nil,
	"blkiotune/device/read_iops_sec":   nil,
	"blkiotune/device/write_iops_sec":  nil,
	"blkiotune/device/read_bytes_sec":  nil,
	"blkiotune/device/write_bytes_sec": nil,
	"resource":                         nil,
	"resource/partition":               nil,
	"cputune/vcpupin":                  {"vcpu", "cpuset"},
	"cputune/emulatorpin":              {"cpuset"},
	"cputune/iothreadpin":              {"iothread", "cpuset"},
	"cputune/vcpusched":                {"vcpus", "scheduler", "priority"},
	"cputune/iothreadsched":            {"iothreads", "scheduler", "priority"},
	"cputune/emulatorsched":            {"scheduler", "priority"},

	"os": {"firmware"},
	// The DAC security driver's labels (drivers/qemu/security_*.go).
	"seclabel":                                        {"type", "model", "relabel"},
	"seclabel/label":                                  nil,
	"seclabel/imagelabel":                             nil,
	"seclabel/baselabel":                              nil,
	"devices/disk/source/seclabel":                    {"model", "relabel", "labelskip"},
	"devices/disk/source/seclabel/label":              nil,
	"devices/disk/backingStore/source/seclabel":       {"model", "relabel", "labelskip"},
	"devices/disk/backingStore/source/seclabel/label": nil,
	"os/loader":                                       {"readonly", "secure", "type", "stateless"},
	"os/nvram":                                        {"template", "type"},
	"os/nvram/source":                                 {"file", "dev", "protocol", "name", "query", "tls", "tlsHostname"},
	"os/nvram/source/host":                            {"name", "port", "transport", "socket"},
	"os/nvram/source/auth":                            {"username"},
	"os/nvram/source/auth/secret":                     {"type", "usage", "uuid"},
	"os/firmware":                                     nil,
	"os/firmware/feature":                             {"enabled", "name"},
	"os/type":                                         {"arch", "machine"},
	"os/boot":                                         {"dev"},
	"os/bootmenu":                                     {"enable", "timeout"},
	"os/bios":                                         {"useserial", "rebootTimeout"},
	"os/kernel":                                       nil,
	"os/initrd":                                       nil,
	"os/cmdline":                                      nil,

	"features":                      nil,
	"features/acpi":                 nil,
	"features/apic":                 {"eoi"},
	"features/pae":                  nil,
	"features/vmport":               {"state"},
	"features/smm":                  {"state"},
	"features/smm/tseg":             {"unit"},
	"features/pvspinlock":           {"state"},
	"features/pmu":                  {"state"},
	"features/vmcoreinfo":           {"state"},
	"features/ioapic":               {"driver"},
	"features/msrs":                 {"unknown"},
	"features/hyperv":               {"mode"},
	"features/hyperv/*":             {"state", "retries", "value"},
	"features/hyperv/stimer/direct": {"state"},
	"features/kvm":                  nil,
	"features/kvm/*":                {"state", "size"},
	"features/tcg":                  nil,
	"features/tcg/tb-cache":         {"unit"},

	"cpu":             {"mode", "match", "check", "migratable"},
	"cpu/model":       {"fallback", "vendor_id"},
	"cpu/vendor":      nil,
	"cpu/topology":    {"sockets", "dies", "cores", "threads"},
	"cpu/feature":     {"name", "policy"},
	"cpu/cache":       {"mode", "level"},
	"cpu/maxphysaddr": {"mode", "bits"},

	"clock":       {"offset", "timezone", "adjustment", "basis", "start"},
	"clock/timer": {"name", "tickpolicy", "present", "track", "frequency", "mode"},

	"on_poweroff": nil,
	"on_reboot":   nil,
	"on_crash":    nil,

	"pm":                 nil,
	"pm/suspend-to-mem":  {"enabled"},
	"pm/suspend-to-disk": {"enabled"},

	"devices":          nil,
	"devices/emulator": nil,

	// rawio='yes' asks for CAP_SYS_RAWIO, which QEMU has when govirtd
	// runs it as root; unprivileged, neither govirt nor libvirt's session
	// driver can grant it.
	"devices/disk": {"type", "device", "model", "snapshot", "rawio"},
	"devices/disk/driver": append([]string{"name", "type", "discard", "cache", "io", "error_policy", "rerror_policy",
		"copy_on_read", "detect_zeroes", "ioeventfd", "event_idx", "queues", "queue_size", "iothread"}, virtioOptNames()...),
	"devices/disk/driver/metadata_cache":                              nil,
	"devices/disk/driver/metadata_cache/max_size":                     {"unit"},
	"devices/disk/backingStore/format/metadata_cache":                 nil,
	"devices/disk/backingStore/format/metadata_cache/max_size":        {"unit"},
	"devices/disk/source":                                             {"file", "fdgroup", "dev", "dir", "index", "type", "managed", "namespace", "protocol", "name", "query", "startupPolicy", "tls", "tlsHostname", "path"},
	"devices/disk/source/reconnect":                                   {"enabled", "timeout"},
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
	"devices/disk/acpi":                                               {"index"},
	"devices/interface/acpi":                                          {"index"},
	"devices/video/acpi":                                              {"index"},
	"devices/hostdev/acpi":                                            {"index"},
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
	"devices/disk/backingStore/source":                                {"file", "fdgroup", "dev", "index", "protocol", "name", "query", "tls", "tlsHostname"},
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

	"devices/controller":             {"type", "index", "model", "ports"},
	"devices/controller/model":       {"name"},
	"devices/controller/master":      {"startport"},
	"devices/controller/driver":      append([]string{"queues", "cmd_per_lun", "max_sectors", "ioeventfd", "iothread"}, virtioOptNames()...),
	"devices/controller/target":      {"chassisNr", "chassis", "port", "busNr", "hotplug"},
	"devices/controller/target/node": nil,
	"devices/controller/alias":       {"name"},
	"devices/controller/address":     addrAttrs,

	"devices/interface":                  {"type", "trustGuestRxFilters"},
	"devices/interface/mac":              {"address"},
	"devices/interface/source":           {"bridge", "network", "portid", "type", "path", "mode", "address", "port", "dev"},
	"devices/interface/source/local":     {"address", "port"},
	"devices/interface/source/reconnect": {"enabled", "timeout"},
	"devices/interface/target":           {"dev", "managed"},
	"devices/interface/model":            {"type"},
	"devices/interface/driver": append([]string{"name", "txmode", "ioeventfd", "event_idx", "queues",
		"rx_queue_size", "tx_queue_size", "rss", "rss_hash_report"}, virtioOptNames()...),
	"devices/interface/driver/host":         {"csum", "gso", "tso4", "tso6", "ecn", "ufo", "mrg_rxbuf"},
	"devices/interface/driver/guest":        {"csum", "tso4", "tso6", "ecn", "ufo"},
	"devices/interface/link":                {"state"},
	"devices/interface/backend":             {"type", "logFile", "tap", "vhost"},
	"devices/interface/portForward":         {"proto", "address", "dev"},
	"devices/interface/portForward/range":   {"start", "end", "to", "exclude"},
	"devices/interface/script":              {"path"},
	"devices/interface/bandwidth":           nil,
	"devices/interface/bandwidth/inbound":   {"average", "peak", "burst", "floor"},
	"devices/interface/bandwidth/outbound":  {"average", "peak", "burst"},
	"devices/interface/mtu":                 {"size"},
	"devices/interface/filterref":           {"filter"},
	"devices/interface/filterref/parameter": {"name", "value"},
	"devices/interface/rom":                 {"bar", "file", "enabled"},
	"devices/interface/tune":                nil,
	"devices/interface/tune/sndbuf":         nil,
	"devices/interface/ip":                  {"address", "family", "prefix"},
	"devices/interface/boot":                {"order"},
	"devices/interface/alias":               {"name"},
	"devices/interface/address":             addrAttrs,

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

	"devices/hostdev":                      {"mode", "type", "managed", "model", "display", "ramfb"},
	"devices/hostdev/source":               {"guestReset", "protocol", "wwpn", "name", "sgio"},
	"devices/hostdev/source/adapter":       {"name"},
	"devices/hostdev/source/host":          {"name", "port"},
	"devices/hostdev/source/auth":          {"username"},
	"devices/hostdev/source/auth/secret":   {"type", "usage", "uuid"},
	"devices/hostdev/source/initiator":     nil,
	"devices/hostdev/source/initiator/iqn": {"name"},
	"devices/hostdev/readonly":             nil,
	"devices/hostdev/source/address":       {"domain", "bus", "slot", "function", "device", "uuid", "target", "unit"},
	"devices/hostdev/driver":               {"name"},
	"devices/hostdev/rom":                  {"bar", "file", "enabled"},
	"devices/hostdev/boot":                 {"order"},
	"devices/hostdev/alias":                {"name"},
	"devices/hostdev/address":              addrAttrs,

	"devices/serial":              {"type"},
	"devices/serial/source":       {"path", "mode", "channel"},
	"devices/serial/target":       {"type", "port"},
	"devices/serial/target/model": {"name"},
	"devices/serial/alias":        {"name"},
	"devices/console":             {"type", "tty"},
	"devices/console/source":      {"path", "mode", "channel"},
	"devices/console/target":      {"type", "port"},
	"devices/console/alias":       {"name"},
	"devices/channel":             {"type"},
	"devices/channel/source":      {"path", "mode", "channel"},
	"devices/channel/target":      {"type", "name", "state"},
	"devices/channel/alias":       {"name"},
	"devices/channel/address":     addrAttrs,

	"devices/input":         {"type", "bus", "model"},
	"devices/input/driver":  virtioOptNames(),
	"devices/input/source":  {"evdev"},
	"devices/input/alias":   {"name"},
	"devices/input/address": addrAttrs,

	"devices/graphics": {"type", "port", "autoport", "listen", "socket", "passwd", "tlsPort", "websocket",
		"websocketGenerated", "sharePolicy", "powerControl", "keymap", "defaultMode", "passwdValidTo",
		"connected", "fullscreen", "xauth", "display", "p2p", "address"},
	"devices/graphics/listen":       {"type", "address", "socket", "network", "autoGenerated", "fromConfig"},
	"devices/graphics/audio":        {"id"},
	"devices/graphics/gl":           {"enable", "rendernode"},
	"devices/graphics/channel":      {"name", "mode"},
	"devices/graphics/image":        {"compression"},
	"devices/graphics/jpeg":         {"compression"},
	"devices/graphics/zlib":         {"compression"},
	"devices/graphics/playback":     {"compression"},
	"devices/graphics/streaming":    {"mode"},
	"devices/graphics/clipboard":    {"copypaste"},
	"devices/graphics/filetransfer": {"enable"},
	"devices/graphics/mouse":        {"mode"},

	"devices/audio":       {"id", "type", "timerPeriod", "tryMMap", "exclusive", "dspPolicy", "serverName", "driver", "path"},
	"devices/audio/input": audioIOAttrs, "devices/audio/output": audioIOAttrs,
	"devices/audio/input/settings":  {"frequency", "channels", "format"},
	"devices/audio/output/settings": {"frequency", "channels", "format"},

	"devices/sound":         {"model"},
	"devices/sound/codec":   {"type"},
	"devices/sound/audio":   {"id"},
	"devices/sound/alias":   {"name"},
	"devices/sound/address": addrAttrs,

	"devices/video":                    nil,
	"devices/video/model":              {"type", "vram", "heads", "primary", "ram", "vram64", "vgamem"},
	"devices/video/model/acceleration": {"accel3d", "accel2d", "rendernode"},
	"devices/video/model/resolution":   {"x", "y"},
	"devices/video/driver":             append([]string{"name"}, virtioOptNames()...),
	"devices/video/alias":              {"name"},
	"devices/video/address":            addrAttrs,

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

	"devices/tpm":                            {"model"},
	"devices/tpm/backend":                    {"type", "version", "persistent_state"},
	"devices/tpm/backend/device":             {"path"},
	"devices/tpm/backend/source":             {"type", "mode", "path"},
	"devices/tpm/backend/encryption":         {"secret"},
	"devices/tpm/backend/active_pcr_banks":   nil,
	"devices/tpm/backend/active_pcr_banks/*": nil,
	"devices/tpm/alias":                      {"name"},

	"devices/panic":         {"model"},
	"devices/panic/address": addrAttrs,
}

// checkElements refuses any element or attribute of def that the builder
// does not honour.
func checkElements(def *conf.Domain) error {
	// The QEMU namespace is read by parseQemuNS.
	t, _ := withoutQemuNS(def.Tree())
	return checkElem(t, "")
}

func checkElem(e *conf.Element, path string) error {
	attrs, ok := allowed[path]
	if !ok {
		// A "*" stands for any element name, checked where it is used.
		for k, v := range allowed {
			if strings.Contains(k, "*") {
				if m, _ := pathpkg.Match(k, path); m {
					attrs, ok = v, true
					break
				}
			}
		}
	}
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
