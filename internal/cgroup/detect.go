// Package cgroup places a guest's QEMU in cgroups the way libvirt 9.0 does
// on a host without systemd-machined (src/util/vircgroup*.c): one group
// per guest below a resource partition ("/machine" by default), named
// "qemu-ID-NAME.libvirt-qemu", with "emulator", "vcpuN" and "iothreadN"
// sub-groups for QEMU's threads. Controllers may sit on cgroup v1
// hierarchies, on the unified (v2) hierarchy, or both (hybrid hosts); each
// controller is used where it is mounted. Only groups this package created
// are ever written to, apart from enabling a v2 controller in a parent's
// cgroup.subtree_control, which v2 requires for a child to use it.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// libvirt's controller names (virCgroupController); on v2 cpuacct is part
// of cpu and blkio is called io.
const (
	CPU     = "cpu"
	CPUAcct = "cpuacct"
	CPUSet  = "cpuset"
	Memory  = "memory"
	Devices = "devices"
	Freezer = "freezer"
	Blkio   = "blkio"
	NetCls  = "net_cls"
	Perf    = "perf_event"
)

// v1Controllers are the v1 controllers libvirt manages, in its order.
var v1Controllers = []string{CPU, CPUAcct, CPUSet, Memory, Devices, Freezer, Blkio, NetCls, Perf}

// v2Names maps libvirt's controller names to the v2 ones (cpuacct and
// devices have no v2 controller file: cpu.stat and BPF cover them).
var v2Names = map[string]string{CPU: "cpu", CPUSet: "cpuset", Memory: "memory", Blkio: "io"}

// threadControllers are the controllers of the per-thread sub-groups.
var threadControllers = []string{CPU, CPUAcct, CPUSet}

// Host is where each controller is mounted.
type Host struct {
	v1     map[string]string // controller -> mount point
	v2     string            // unified mount point, "" without one
	v2ctl  map[string]bool   // libvirt controller names served by v2
	subsys []string          // controller names of /proc/cgroups (escaping)
}

// Detect reads /proc/self/mountinfo and /proc/cgroups. A host without any
// usable controller is not an error: Available then says false.
func Detect() (*Host, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	cg, err := os.ReadFile("/proc/cgroups")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return DetectFrom(mi, cg)
}

// DetectFrom builds a Host from the contents of a mountinfo and a
// /proc/cgroups file (tests point the mounts at a fake tree).
func DetectFrom(mountinfo, cgroups []byte) (*Host, error) {
	h := &Host{v1: map[string]string{}, v2ctl: map[string]bool{}}
	enabled := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(cgroups))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		h.subsys = append(h.subsys, f[0])
		enabled[f[0]] = f[3] == "1"
	}
	sc = bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" && i >= 6 {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+4 {
			continue
		}
		dir, fstype, super := unescapeMount(f[4]), f[sep+1], f[sep+3]
		switch fstype {
		case "cgroup":
			// Later mounts of the same controller win, as in libvirt.
			for _, o := range strings.Split(super, ",") {
				for _, c := range v1Controllers {
					if o == c && (len(enabled) == 0 || enabled[c]) {
						h.v1[c] = dir
					}
				}
			}
		case "cgroup2":
			h.v2 = dir
		}
	}
	if h.v2 != "" {
		data, _ := os.ReadFile(filepath.Join(h.v2, "cgroup.controllers"))
		have := map[string]bool{}
		for _, c := range strings.Fields(string(data)) {
			have[c] = true
		}
		for lv, v2 := range v2Names {
			if have[v2] && h.v1[lv] == "" {
				h.v2ctl[lv] = true
			}
		}
		// Devices is a BPF program on v2, where the kernel has them.
		if h.v1[Devices] == "" && v2DevicesAvailable(h.v2) {
			h.v2ctl[Devices] = true
		}
		// cpu.stat of the cpu controller is v2's cpuacct.
		if h.v2ctl[CPU] && h.v1[CPUAcct] == "" {
			h.v2ctl[CPUAcct] = true
		}
	}
	return h, sc.Err()
}

// UseV2Devices moves the devices controller from its v1 hierarchy to
// v2's BPF programs, where the kernel has them (GOVIRT_CGROUP_V2_DEVICES
// in tests: a hybrid host then runs the v2 code); false when it cannot.
func (h *Host) UseV2Devices() bool {
	if h.v2 == "" || !v2DevicesAvailable(h.v2) {
		return false
	}
	delete(h.v1, Devices)
	h.v2ctl[Devices] = true
	return true
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := (int(s[i+1]-'0') << 6) | (int(s[i+2]-'0') << 3) | int(s[i+3]-'0')
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Available says whether any controller libvirt uses is mounted.
func (h *Host) Available() bool { return h != nil && (len(h.v1) > 0 || len(h.v2ctl) > 0) }

// Controllers lists the controllers in use and where: "v1" or "v2".
func (h *Host) Controllers() map[string]string {
	out := map[string]string{}
	for c := range h.v1 {
		out[c] = "v1"
	}
	for c := range h.v2ctl {
		out[c] = "v2"
	}
	return out
}

// dirOf is a controller's directory for the group at rel ("" when the
// controller is not mounted).
func (h *Host) dirOf(c, rel string) string {
	if m := h.v1[c]; m != "" {
		return filepath.Join(m, rel)
	}
	if h.v2ctl[c] {
		return filepath.Join(h.v2, rel)
	}
	return ""
}

// isV2 says whether controller c is on the unified hierarchy.
func (h *Host) isV2(c string) bool { return h.v1[c] == "" && h.v2ctl[c] }
