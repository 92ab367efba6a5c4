// Package hostiface serves the host's network interfaces
// (virInterface*) of qemu:///system read-only, as libvirt 9.0's udev
// interface backend (src/interface/interface_backend_udev.c): every
// interface of the "net" class except bridge ports and tap devices,
// active when its operstate is "up", described as ethernet, bridge
// (with its ports), bond (with its slaves) or vlan with MAC, MTU and
// link state. That backend cannot define, undefine, start or stop
// interfaces, and neither can this one: those calls answer "not
// supported by the connection driver" as libvirtd's do.
package hostiface

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"govirt/driver"
	"govirt/drivers/nodedev"
	"govirt/virerr"
)

// Host reads the interfaces under a filesystem root ("/" on a host).
type Host struct{ root string }

// New returns a Host for root ("" is "/").
func New(root string) *Host {
	if root == "" {
		root = "/"
	}
	return &Host{root: root}
}

func (h *Host) path(p string) string {
	if h.root == "/" {
		return p
	}
	return filepath.Join(h.root, p)
}

// maxAttr bounds one sysfs or procfs read.
const maxAttr = 64 << 10

func (h *Host) read(p string) (string, bool) {
	fh, err := os.Open(h.path(p))
	if err != nil {
		return "", false
	}
	defer fh.Close()
	buf := make([]byte, maxAttr)
	n, _ := fh.Read(buf)
	return string(buf[:n]), true
}

// attr is udev_device_get_sysattr_value for /sys/class/net/NAME/attr:
// the file without trailing newlines; a directory gives nothing.
func (h *Host) attr(name, a string) (string, bool) {
	p := h.path("/sys/class/net/" + name + "/" + a)
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() {
		return "", false
	}
	s, ok := h.read("/sys/class/net/" + name + "/" + a)
	return strings.TrimRight(s, "\n"), ok
}

// validName rejects what cannot be an interface name before a path is
// built from it.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) < 256 && !strings.ContainsAny(s, "/\x00\n")
}

// exists is udev_device_new_from_subsystem_sysname(udev, "net", name).
func (h *Host) exists(name string) bool {
	if !validName(name) {
		return false
	}
	_, err := os.Stat(h.path("/sys/class/net/" + name + "/uevent"))
	return err == nil
}

// names are the interfaces udevGetDevices lists, in libudev's order:
// no bridge ports (brport/state) and no taps (tun_flags).
func (h *Host) names() []string {
	ents, err := os.ReadDir(h.path("/sys/class/net"))
	if err != nil {
		return nil
	}
	type ent struct{ name, syspath string }
	var out []ent
	for _, e := range ents {
		n := e.Name()
		if !h.exists(n) {
			continue
		}
		if _, ok := h.attr(n, "brport/state"); ok {
			continue
		}
		if _, ok := h.attr(n, "tun_flags"); ok {
			continue
		}
		sp, err := filepath.EvalSymlinks(h.path("/sys/class/net/" + n))
		if err != nil {
			sp = n
		}
		out = append(out, ent{n, sp})
	}
	sort.Slice(out, func(i, j int) bool { return pathLess(out[i].syspath, out[j].syspath) })
	names := make([]string, len(out))
	for i, e := range out {
		names[i] = e.name
	}
	return names
}

// pathLess is systemd's path_compare, libudev's enumeration order.
func pathLess(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

func (h *Host) up(name string) bool {
	s, _ := h.attr(name, "operstate")
	return s == "up"
}

func (h *Host) iface(name string) driver.Interface {
	mac, _ := h.attr(name, "address")
	return driver.Interface{Name: name, MAC: mac}
}

func errNoIface(format string, args ...any) error {
	return virerr.New(virerr.FromInterface, virerr.ErrNoInterface, format, args...)
}

func errInternal(format string, args ...any) error {
	return virerr.New(virerr.FromInterface, virerr.ErrInternalError, format, args...)
}

// Interface list filters (VIR_CONNECT_LIST_INTERFACES_*).
const (
	listInactive = 1 << 0
	listActive   = 1 << 1
)

// ListAllInterfaces is udevConnectListAllInterfaces.
func (h *Host) ListAllInterfaces(flags uint32) ([]driver.Interface, error) {
	if flags&^(listInactive|listActive) != 0 {
		return nil, virerr.Raw(virerr.FromInterface, virerr.ErrInvalidArg,
			fmt.Sprintf("unsupported flags (0x%x) in function udevConnectListAllInterfaces", flags&^(listInactive|listActive)))
	}
	out := []driver.Interface{}
	for _, n := range h.names() {
		up := h.up(n)
		if flags != 0 && !(flags&listActive != 0 && up || flags&listInactive != 0 && !up) {
			continue
		}
		out = append(out, h.iface(n))
	}
	return out, nil
}

// InterfaceNames is udevListInterfacesByStatus: active means operstate
// "up", defined means exactly "down" (an "unknown" one, such as lo, is
// in neither list, though LIST_ALL calls it inactive).
func (h *Host) InterfaceNames(active bool) ([]string, error) {
	want := "down"
	if active {
		want = "up"
	}
	out := []string{}
	for _, n := range h.names() {
		if s, _ := h.attr(n, "operstate"); s == want {
			out = append(out, n)
		}
	}
	return out, nil
}

// LookupInterfaceByName is udevInterfaceLookupByName.
func (h *Host) LookupInterfaceByName(name string) (driver.Interface, error) {
	if !h.exists(name) {
		return driver.Interface{}, errNoIface("couldn't find interface named '%s'", name)
	}
	return h.iface(name), nil
}

// LookupInterfaceByMACString is udevInterfaceLookupByMACString; libudev
// matches the address attribute as a shell pattern.
func (h *Host) LookupInterfaceByMACString(mac string) (driver.Interface, error) {
	var found []string
	for _, n := range h.names() {
		a, _ := h.attr(n, "address")
		if ok, _ := filepath.Match(mac, a); ok {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return driver.Interface{}, errNoIface("couldn't find interface with MAC address '%s'", mac)
	case 1:
		return h.iface(found[0]), nil
	}
	return driver.Interface{}, virerr.New(virerr.FromInterface, virerr.ErrMultipleInterfaces,
		"the MAC address '%s' matches multiple interfaces", mac)
}

// InterfaceIsActive is udevInterfaceIsActive.
func (h *Host) InterfaceIsActive(i driver.Interface) (bool, error) {
	if !h.exists(i.Name) {
		return false, errNoIface("couldn't find interface named '%s'", i.Name)
	}
	return h.up(i.Name), nil
}

// InterfaceGetXMLDesc is udevInterfaceGetXMLDesc; the live and inactive
// descriptions are the same.
func (h *Host) InterfaceGetXMLDesc(i driver.Interface, flags uint32) (string, error) {
	if flags&^1 != 0 {
		return "", virerr.Raw(virerr.FromInterface, virerr.ErrInvalidArg,
			fmt.Sprintf("unsupported flags (0x%x) in function udevInterfaceGetXMLDesc", flags&^1))
	}
	def, err := h.def(i.Name, 0)
	if err != nil {
		return "", err
	}
	b := &strings.Builder{}
	def.format(b, 0, true)
	return b.String(), nil
}

// ifDef is virInterfaceDef as the udev backend fills it.
type ifDef struct {
	typ, name, mac string
	mtu            uint
	state          string
	speed          uint
	// bridge
	stp     int
	delay   string
	members []*ifDef
	// bond
	bond *bondDef
	// vlan
	tag, dev string
}

// maxDepth bounds the recursion through bridge ports and bond slaves.
const maxDepth = 8

// def is udevGetIfaceDef.
func (h *Host) def(name string, depth int) (*ifDef, error) {
	if !h.exists(name) {
		return nil, errNoIface("couldn't find interface named '%s'", name)
	}
	if depth > maxDepth {
		return nil, errInternal("interface '%s' is nested too deeply", name)
	}
	d := &ifDef{name: name, typ: "ethernet"}
	d.mac, _ = h.attr(name, "address")
	st, sp, err := nodedev.LinkInfo(h.root, name)
	if err != nil {
		return nil, errInternal("Unable to parse: %s", "/sys/class/net/"+name+"/operstate")
	}
	d.state, d.speed = st, sp
	mtu, _ := h.attr(name, "mtu")
	v, err := strconv.ParseUint(mtu, 10, 32)
	if err != nil {
		if mtu == "" {
			mtu = "(null)"
		}
		return nil, errInternal("Could not parse MTU value '%s'", mtu)
	}
	d.mtu = uint(v)
	devtype := h.devtype(name)
	switch devtype {
	case "vlan":
		d.typ = "vlan"
	case "bridge":
		d.typ = "bridge"
	case "bond":
		d.typ = "bond"
	}
	if d.typ == "ethernet" {
		if strings.Contains(name, ".") {
			d.typ = "vlan"
		}
		if _, ok := h.attr(name, "bonding/mode"); ok {
			d.typ = "bond"
		}
	}
	switch d.typ {
	case "vlan":
		data, ok := h.read("/proc/net/vlan/" + name)
		if !ok {
			return nil, virerr.New(virerr.FromInterface, virerr.ErrSystemError, "Failed to open file '/proc/net/vlan/%s': No such file or directory", name)
		}
		tag, dev, err := parseVlanProc(data)
		if err != nil {
			return nil, errInternal("failed to find the %s for the VLAN device '%s'", err.Error(), name)
		}
		d.tag, d.dev = tag, dev
	case "bridge":
		if err := h.bridge(d, depth); err != nil {
			return nil, err
		}
	case "bond":
		if err := h.bondDef(d, depth); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// devtype is the DEVTYPE of the interface's uevent file.
func (h *Host) devtype(name string) string {
	s, _ := h.read("/sys/class/net/" + name + "/uevent")
	for _, l := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(l, "DEVTYPE="); ok {
			return v
		}
	}
	return ""
}

// parseVlanProc reads /proc/net/vlan/NAME as udevGetIfaceDefVlan does:
// the digits after "VID: " (followed by white space) and the line after
// "\nDevice: ". The error names what is missing ("VID" or "real
// device").
func parseVlanProc(buf string) (tag, dev string, err error) {
	i := strings.Index(buf, "VID: ")
	if i < 0 {
		return "", "", fmt.Errorf("VID")
	}
	rest := buf[i+len("VID: "):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n >= len(rest) || !isSpace(rest[n]) {
		return "", "", fmt.Errorf("VID")
	}
	tag = rest[:n]
	j := strings.Index(rest[n:], "\nDevice: ")
	if j < 0 {
		return "", "", fmt.Errorf("real device")
	}
	devPart := rest[n+j+len("\nDevice: "):]
	if k := strings.IndexByte(devPart, '\n'); k >= 0 {
		devPart = devPart[:k]
	}
	if devPart == "" {
		return "", "", fmt.Errorf("real device")
	}
	return tag, devPart, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
