// Package nodedev serves the host's node devices (virNodeDevice*) of
// qemu:///system as libvirt 9.0's udev backend
// (src/node_device/node_device_udev.c) builds them: the devices are read
// from sysfs, with the properties libudev would give (the kernel's uevent
// file plus, when udevd runs, its database under /run/udev/data), and
// formatted as virNodeDeviceDefFormat does.
//
// The tree is read again on every call instead of being cached and kept
// current from uevents: a scan costs a few milliseconds, and what a
// client sees is never stale.
package nodedev

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// fsys maps the absolute paths libvirt uses (/sys/..., /run/udev/...,
// /dev/...) onto a root directory, "/" on a real host and a fake tree
// in tests. Every path built from a client's input goes through a check
// first (validName), so nothing here sees "..".
type fsys struct{ root string }

func (f fsys) path(p string) string {
	if f.root == "" || f.root == "/" {
		return p
	}
	return filepath.Join(f.root, p)
}

// logical turns a real path back into the /sys/... path shown to clients.
func (f fsys) logical(p string) string {
	if f.root == "" || f.root == "/" {
		return p
	}
	rel, err := filepath.Rel(f.root, p)
	if err != nil {
		return p
	}
	return "/" + rel
}

// maxAttr bounds what is read from one sysfs attribute (they are a page
// at most).
const maxAttr = 64 << 10

func (f fsys) readFile(p string) ([]byte, error) {
	fh, err := os.Open(f.path(p))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(io.LimitReader(fh, maxAttr))
	return buf.Bytes(), err
}

func (f fsys) exists(p string) bool {
	_, err := os.Stat(f.path(p))
	return err == nil
}

func (f fsys) isLink(p string) bool {
	fi, err := os.Lstat(f.path(p))
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}

// resolve follows the symlinks of p (a logical path) and returns the
// logical target.
func (f fsys) resolve(p string) (string, bool) {
	r, err := filepath.EvalSymlinks(f.path(p))
	if err != nil {
		return "", false
	}
	return f.logical(r), true
}

// udevDevice is what libvirt asks libudev about one device.
type udevDevice struct {
	syspath   string // /sys/devices/...
	sysname   string
	subsystem string
	devtype   string
	props     map[string]string
	devlinks  []string
	fs        fsys
}

// prop is udev_device_get_property_value.
func (d *udevDevice) prop(key string) (string, bool) {
	v, ok := d.props[key]
	return v, ok
}

// sysattr is udev_device_get_sysattr_value: the attribute file under the
// device's directory without its trailing newlines; a symlink gives the
// base name of its target only for driver, subsystem and module; a
// directory or an unreadable file gives nothing.
func (d *udevDevice) sysattr(name string) (string, bool) {
	p := d.syspath + "/" + name
	fi, err := os.Lstat(d.fs.path(p))
	if err != nil {
		return "", false
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		base := filepath.Base(name)
		if base != "driver" && base != "subsystem" && base != "module" {
			return "", false
		}
		t, err := os.Readlink(d.fs.path(p))
		if err != nil {
			return "", false
		}
		return filepath.Base(t), true
	}
	if fi.IsDir() {
		return "", false
	}
	b, err := d.fs.readFile(p)
	if err != nil {
		return "", false
	}
	return strings.TrimRight(string(b), "\n"), true
}

// loadDevice reads one device the way sd-device does: the uevent file's
// KEY=VALUE lines (DEVNAME gains its /dev/ prefix), the subsystem link,
// and udevd's database entry when there is one.
func (f fsys) loadDevice(syspath string) (*udevDevice, bool) {
	data, err := f.readFile(syspath + "/uevent")
	if err != nil {
		return nil, false
	}
	d := &udevDevice{syspath: syspath, fs: f, props: map[string]string{}}
	d.sysname = strings.ReplaceAll(filepath.Base(syspath), "!", "/")
	d.props["DEVPATH"] = strings.TrimPrefix(syspath, "/sys")
	if t, err := os.Readlink(f.path(syspath + "/subsystem")); err == nil {
		d.subsystem = filepath.Base(t)
		d.props["SUBSYSTEM"] = d.subsystem
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		if k == "DEVNAME" && !strings.HasPrefix(v, "/") {
			v = "/dev/" + v
		}
		d.props[k] = v
	}
	d.devtype = d.props["DEVTYPE"]
	f.loadUdevDB(d)
	return d, true
}

// udevDBName is the database file udevd keeps for a device: b/c plus
// major:minor for device nodes, n plus the ifindex for network
// interfaces, +subsystem:sysname otherwise.
func (d *udevDevice) udevDBName() string {
	maj, min := d.props["MAJOR"], d.props["MINOR"]
	switch {
	case maj != "" && min != "":
		kind := "c"
		if d.subsystem == "block" {
			kind = "b"
		}
		return kind + maj + ":" + min
	case d.subsystem == "net" && d.props["IFINDEX"] != "":
		return "n" + d.props["IFINDEX"]
	case d.subsystem != "":
		return "+" + d.subsystem + ":" + strings.ReplaceAll(d.sysname, "/", "!")
	}
	return ""
}

// loadUdevDB adds the E: properties and S: links of udevd's database.
func (f fsys) loadUdevDB(d *udevDevice) {
	name := d.udevDBName()
	if name == "" || strings.Contains(name, "/") {
		return
	}
	data, err := f.readFile("/run/udev/data/" + name)
	if err != nil {
		return
	}
	props, links := parseUdevDB(data)
	for k, v := range props {
		if _, ok := d.props[k]; !ok || k != "DEVPATH" {
			d.props[k] = v
		}
	}
	for _, l := range links {
		d.devlinks = append(d.devlinks, "/dev/"+l)
	}
}

// parseUdevDB reads udevd's database format: one record a line, a
// letter, a colon and the value; E: is KEY=VALUE, S: a /dev link.
func parseUdevDB(data []byte) (map[string]string, []string) {
	props := map[string]string{}
	var links []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxAttr)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'E':
			if k, val, ok := strings.Cut(v, "="); ok && k != "" {
				props[k] = val
			}
		case 'S':
			if v != "" {
				links = append(links, v)
			}
		}
	}
	return props, links
}

// ignoredSubsystems are those libvirt tells libudev to skip
// (subsystem_ignored in node_device_udev.c).
var ignoredSubsystems = map[string]bool{"acpi": true, "tty": true, "vc": true, "i2c": true}

// enumerate lists the devices libudev's enumerator finds (every entry of
// /sys/bus/*/devices and /sys/class/*), as resolved /sys/devices paths,
// parents before children.
func (f fsys) enumerate() []string {
	seen := map[string]bool{}
	var out []string
	add := func(dir string) {
		ents, err := os.ReadDir(f.path(dir))
		if err != nil {
			return
		}
		for _, e := range ents {
			p, ok := f.resolve(dir + "/" + e.Name())
			if !ok || seen[p] || !f.exists(p+"/uevent") {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	if buses, err := os.ReadDir(f.path("/sys/bus")); err == nil {
		for _, b := range buses {
			add("/sys/bus/" + b.Name() + "/devices")
		}
	}
	if classes, err := os.ReadDir(f.path("/sys/class")); err == nil {
		for _, c := range classes {
			add("/sys/class/" + c.Name())
		}
	}
	sort.Slice(out, func(i, j int) bool { return pathLess(out[i], out[j]) })
	return out
}

// pathLess is systemd's path_compare: component by component, so a
// directory sorts before everything below it.
func pathLess(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}
