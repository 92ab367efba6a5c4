package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"govirt/conf"
)

// The paths a guest's private /dev holds, as libvirt's
// qemuDomainBuildNamespace gathers them: the default cgroup_device_acl,
// every disk's chain, host devices (VFIO), chardevs QEMU opens by path,
// TPM passthrough, RNG and evdev input devices (guestDevices), the
// loader and varstore, NVDIMM/virtio-pmem backing paths, the render
// node of graphics and /dev/sev for SEV. Only those below /dev become
// nodes; the rest are reachable as on the host.

// nsPaths lists the paths of a definition.
func nsPaths(def *conf.Domain) []string {
	out := append([]string{}, defaultDeviceACL...)
	for _, disk := range def.Devices.Disks {
		for _, u := range diskDevices(disk) {
			out = append(out, u.path)
		}
	}
	for _, u := range guestDevices(def) {
		out = append(out, u.path)
	}
	tree := def.Tree()
	if osEl := tree.Child("os"); osEl != nil {
		for _, n := range []string{"loader", "nvram"} {
			if el := osEl.Child(n); el != nil && el.Text() != "" {
				out = append(out, el.Text())
			}
		}
	}
	if devs := tree.Child("devices"); devs != nil {
		for _, m := range devs.Children("memory") {
			if mod, _ := m.Attr("model"); mod == "nvdimm" || mod == "virtio-pmem" {
				if src := m.Child("source"); src != nil {
					if p := src.Child("path"); p != nil && p.Text() != "" {
						out = append(out, p.Text())
					}
				}
			}
		}
		for _, g := range devs.Children("graphics") {
			for _, x := range []*conf.Element{g.Child("gl"), g} {
				if x != nil {
					if r, _ := x.Attr("rendernode"); r != "" {
						out = append(out, r)
					}
				}
			}
		}
	}
	if ls := tree.Child("launchSecurity"); ls != nil {
		if t, _ := ls.Attr("type"); t == "sev" {
			out = append(out, "/dev/sev")
		}
	}
	return out
}

// nsNode is one entry of a private /dev, read from the host's: a device
// node, a symlink (target set) or a file or directory (bind-mounted),
// with its owner, mode and the extended attributes that carry its ACL
// and SELinux label (libvirt copies both).
type nsNode struct {
	path     string // below /dev
	mode     uint32 // st_mode, type bits included
	rdev     uint64
	uid, gid uint32
	target   string
	xattrs   map[string][]byte
}

// copiedXattrs are the attributes a node's copy keeps.
var copiedXattrs = []string{"system.posix_acl_access", "security.selinux"}

func (n *nsNode) isLink() bool { return n.mode&syscall.S_IFMT == syscall.S_IFLNK }
func (n *nsNode) isDev() bool {
	t := n.mode & syscall.S_IFMT
	return t == syscall.S_IFCHR || t == syscall.S_IFBLK
}

// statNSNodes reads the nodes for paths, following symlink chains as
// libvirt's qemuNamespacePrepareOneItem (each link and its target become
// entries); paths outside /dev or inside a mount kept from the host
// (keep: /dev/pts, /dev/shm, ...) are left out, as are missing ones.
func statNSNodes(paths, keep []string) ([]nsNode, error) {
	var out []nsNode
	seen := map[string]bool{}
	for _, p := range paths {
		next := filepath.Clean(p)
		for ttl := 40; ttl > 0 && next != ""; ttl-- {
			var st syscall.Stat_t
			if err := syscall.Lstat(next, &st); err != nil {
				if err == syscall.ENOENT {
					break
				}
				return nil, &os.PathError{Op: "Unable to access", Path: next, Err: err}
			}
			n := nsNode{path: next, mode: st.Mode, rdev: st.Rdev, uid: st.Uid, gid: st.Gid}
			if n.isLink() {
				t, err := os.Readlink(next)
				if err != nil {
					return nil, err
				}
				if !filepath.IsAbs(t) {
					t = filepath.Join(filepath.Dir(next), t)
				}
				n.target = t
			} else {
				n.xattrs = readXattrs(next)
			}
			if strings.HasPrefix(next, "/dev/") && !underAny(next, keep) && !seen[next] {
				seen[next] = true
				out = append(out, n)
			}
			next = n.target
		}
	}
	return out, nil
}

func readXattrs(p string) map[string][]byte {
	var m map[string][]byte
	for _, name := range copiedXattrs {
		buf := make([]byte, 4096)
		n, err := syscall.Getxattr(p, name, buf)
		if err != nil || n <= 0 {
			continue
		}
		if m == nil {
			m = map[string][]byte{}
		}
		m[name] = buf[:n]
	}
	return m
}

// underAny is true when p is one of dirs or below one.
func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// devSubmounts are the mounts below /dev in a mount table
// (/proc/PID/mountinfo), nested ones and repeats pruned: they are
// kept as they are in the private /dev (libvirt's
// qemuDomainGetPreservedMounts), so ptys, /dev/shm and huge pages
// work as on the host.
func devSubmounts(mountinfo string) ([]string, error) {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if !strings.HasPrefix(mp, "/dev/") || underAny(mp, out) {
			continue
		}
		// A mount listed after one below it covers it.
		kept := out[:0]
		for _, o := range out {
			if !strings.HasPrefix(o, mp+"/") {
				kept = append(kept, o)
			}
		}
		out = append(kept, mp)
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := 0
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + int(c-'0')
			}
			if ok {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
