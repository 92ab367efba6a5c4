package qemu

import (
	"os"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/internal/cgroup"
	"govirt/virerr"
)

// virsh numatune's setter as libvirt's qemuDomainSetNumaParameters: the
// persistent <numatune> takes any mode and node set; a running guest
// keeps its mode, and only a guest whose memory is not bound by QEMU
// (mode 'restrictive', or no <numatune> at all) may move to other host
// nodes, which is cpuset.mems of its emulator, vCPU and iothread groups.

// numaModeNames are virDomainNumatuneMemMode's names by value.
var numaModeNames = conf.NumatuneModes

var numaParamTypes = map[string]string{"numa_mode": "int", "numa_nodeset": "string"}

// numaMemMask is the cpuset.mems qemuProcessSetupPid gives a guest's
// threads: the <numatune><memory> node set in strict or restrictive mode
// ("" otherwise). With placement='auto' the node set is numad's advice
// ap (virDomainNumatuneMaybeFormatNodeset with autoNodeset).
func numaMemMask(def *conf.Domain, ap *autoPlacement) string {
	if def == nil {
		return ""
	}
	if m, _ := def.Value("numatune/memory/@mode"); m != "" && m != "strict" && m != "restrictive" {
		return ""
	}
	if p, _ := def.Value("numatune/memory/@placement"); p == "auto" {
		if ap == nil || len(ap.nodes) == 0 {
			return ""
		}
		return conf.FormatBitmap(ap.nodes)
	}
	ns, ok := def.Value("numatune/memory/@nodeset")
	if !ok || ns == "" {
		return ""
	}
	set, err := conf.ParseBitmap(ns)
	if err != nil || len(set) == 0 {
		return ""
	}
	return conf.FormatBitmap(set)
}

// setThreadMems writes mems into a thread's sub-group (nothing when mems
// is "" or there is no cpuset controller).
func setThreadMems(g *cgroup.Group, kind string, id int, mems string) error {
	if mems == "" || g == nil || !g.Has(cgroup.CPUSet) {
		return nil
	}
	sub, err := g.Thread(kind, id, false)
	if err != nil {
		return cgErr(err)
	}
	if err := sub.SetCpusetMems(mems); err != nil {
		return cgErr(err)
	}
	return nil
}

// hostNUMANodeOnline is virNumaNodeIsAvailable.
func hostNUMANodeOnline(n int) bool {
	data, err := os.ReadFile("/sys/devices/system/node/online")
	if err != nil {
		return n == 0
	}
	set, err := conf.ParseBitmap(strings.TrimSpace(string(data)))
	if err != nil {
		return n == 0
	}
	for _, x := range set {
		if x == n {
			return true
		}
	}
	return false
}

// numatuneMode is virDomainNumatuneGetMode(def, -1): -1 without a
// <numatune><memory>.
func numatuneMode(def *conf.Domain) int {
	if nt := def.Tree().Child("numatune"); nt == nil || nt.Child("memory") == nil {
		return -1
	}
	m, _ := def.Value("numatune/memory/@mode")
	for i, n := range numaModeNames {
		if n == m {
			return i
		}
	}
	return 0 // strict, the default
}

// setNumatune is conf's SetNumatune with the node set as a bitmap.
func setNumatune(def *conf.Domain, mode int, nodeset []int) error {
	ns := ""
	if nodeset != nil {
		ns = conf.FormatBitmap(nodeset)
	}
	if err := def.SetNumatune(mode, ns); err != nil {
		return errQEMU(virerr.ErrConfigUnsupported, "%s", err.Error())
	}
	return nil
}

// DomainSetNumaParameters is qemuDomainSetNumaParameters.
func (c *conn) DomainSetNumaParameters(h driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainSetNumaParameters"); err != nil {
		return err
	}
	if err := driver.ValidateParams(params, numaParamTypes); err != nil {
		return err
	}
	if _, err := c.d.doms.get(h); err != nil {
		return err
	}
	mode := -1
	var nodeset []int
	for _, p := range params {
		switch p.Field {
		case "numa_mode":
			m := p.Value.(int32)
			if m < 0 || int(m) >= len(numaModeNames) {
				return errQEMU(virerr.ErrInvalidArg, "unsupported numatune mode: '%d'", m)
			}
			mode = int(m)
		case "numa_nodeset":
			s := p.Value.(string)
			set, err := conf.ParseBitmap(s)
			if err != nil {
				return err
			}
			if len(set) == 0 {
				return errQEMU(virerr.ErrOperationInvalid, "Invalid nodeset of 'numatune': %s", s)
			}
			nodeset = set
		}
	}
	v, err := c.jobVM(h, "numatune")
	if err != nil {
		return err
	}
	defer v.job.release()
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return err
	}
	if live != nil {
		if !privileged() {
			return errQEMU(virerr.ErrOperationUnsupported, "NUMA tuning is not available in session mode")
		}
		g := guestCgroup(v)
		if g == nil || !g.Has(cgroup.CPUSet) {
			return errQEMU(virerr.ErrOperationInvalid, "cgroup cpuset controller is not mounted")
		}
		cur := numatuneMode(live)
		if mode != -1 && cur != -1 && cur != mode {
			return errQEMU(virerr.ErrOperationInvalid, "can't change numatune mode for running domain")
		}
		if mode == 0 {
			have, _ := live.Value("numatune/memory/@nodeset")
			hs, _ := conf.ParseBitmap(have)
			if conf.FormatBitmap(hs) != conf.FormatBitmap(nodeset) {
				return errQEMU(virerr.ErrOperationInvalid, "can't change nodeset for strict mode for running domain")
			}
		} else {
			if nodeset != nil {
				if err := c.setNumaLive(v, live, cur, nodeset); err != nil {
					return err
				}
			}
			var serr error
			c.d.modifyLive(v, func(l *conf.Domain) { serr = setNumatune(l, mode, nodeset) })
			if serr != nil {
				return serr
			}
		}
	}
	if persistent != nil {
		next := persistent.Clone()
		if err := setNumatune(next, mode, nodeset); err != nil {
			return err
		}
		return c.d.publishConfig(v, next)
	}
	return nil
}

// setNumaLive is qemuDomainSetNumaParamsLive: cpuset.mems of the
// emulator, each online vCPU and each iothread group.
func (c *conn) setNumaLive(v *vm, live *conf.Domain, mode int, nodeset []int) error {
	if mode != -1 && mode != 3 {
		return errQEMU(virerr.ErrOperationInvalid, "change of nodeset for running domain requires restrictive numa mode")
	}
	for _, n := range nodeset {
		if !hostNUMANodeOnline(n) {
			return errQEMU(virerr.ErrConfigUnsupported, "NUMA node %d is unavailable", n)
		}
	}
	g := guestCgroup(v)
	mems := conf.FormatBitmap(nodeset)
	if err := setThreadMems(g, cgroup.ThreadEmulator, 0, mems); err != nil {
		return err
	}
	online := int(live.VCPUs)
	if live.CurrentVCPUs > 0 && int(live.CurrentVCPUs) < online {
		online = int(live.CurrentVCPUs)
	}
	for i := 0; i < online; i++ {
		if err := setThreadMems(g, cgroup.ThreadVCPU, i, mems); err != nil {
			return err
		}
	}
	for _, id := range live.IOThreadIDs() {
		if err := setThreadMems(g, cgroup.ThreadIOThread, id, mems); err != nil {
			return err
		}
	}
	return nil
}
