package command

// The elements and attributes of character devices, input devices, USB
// devices and the small devices (rng, balloon, watchdog, panic) the
// builder honours; merged into allowed.
func init() {
	chrSource := []string{"path", "mode", "host", "service", "append", "tls", "channel"}
	isaAddr := append([]string{"irq"}, addrAttrs...)
	for _, dev := range []string{"serial", "console", "channel", "parallel", "smartcard", "redirdev", "rng/backend"} {
		p := "devices/" + dev
		allowed[p+"/source"] = chrSource
		allowed[p+"/source/reconnect"] = []string{"enabled", "timeout"}
		allowed[p+"/protocol"] = []string{"type"}
		allowed[p+"/log"] = []string{"file", "append"}
		if dev != "rng/backend" {
			allowed[p+"/alias"] = []string{"name"}
			allowed[p+"/address"] = isaAddr
		}
	}
	allowed["devices/channel/source/clipboard"] = []string{"copypaste"}
	allowed["devices/channel/source/mouse"] = []string{"mode"}
	allowed["devices/serial"] = []string{"type"}
	allowed["devices/serial/target"] = []string{"type", "port"}
	allowed["devices/serial/target/model"] = []string{"name"}
	allowed["devices/console"] = []string{"type", "tty"}
	allowed["devices/console/target"] = []string{"type", "port"}
	allowed["devices/parallel"] = []string{"type"}
	allowed["devices/parallel/target"] = []string{"port"}
	allowed["devices/channel"] = []string{"type"}
	allowed["devices/channel/target"] = []string{"type", "name", "state", "address", "port"}

	allowed["devices/input"] = []string{"type", "bus", "model"}
	allowed["devices/input/source"] = []string{"dev", "evdev", "grab", "grabToggle", "repeat"}
	allowed["devices/input/driver"] = virtioOptNames()

	allowed["devices/smartcard"] = []string{"mode", "type"}
	allowed["devices/smartcard/certificate"] = nil
	allowed["devices/smartcard/database"] = nil
	allowed["devices/redirdev"] = []string{"bus", "type"}
	allowed["devices/redirdev/boot"] = []string{"order"}
	allowed["devices/redirfilter"] = nil
	allowed["devices/redirfilter/usbdev"] = []string{"class", "vendor", "product", "version", "allow"}
	allowed["devices/hub"] = []string{"type"}
	allowed["devices/hub/alias"] = []string{"name"}
	allowed["devices/hub/address"] = addrAttrs
	allowed["devices/controller/master"] = []string{"startport"}
	allowed["devices/controller"] = append(allowed["devices/controller"], "vectors")

	allowed["devices/rng/backend"] = []string{"model", "type"}
	allowed["devices/rng/rate"] = []string{"bytes", "period"}
	allowed["devices/rng/driver"] = virtioOptNames()
	allowed["devices/memballoon"] = []string{"model", "autodeflate", "freePageReporting"}
	allowed["devices/memballoon/stats"] = []string{"period"}
	allowed["devices/memballoon/driver"] = virtioOptNames()
	allowed["devices/panic/alias"] = []string{"name"}
}
