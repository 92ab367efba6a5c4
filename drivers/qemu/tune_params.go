package qemu

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/internal/cgroup"
	"govirt/virerr"
)

// The typed-parameter tuning calls of libvirt's QEMU driver (virsh
// schedinfo, memtune, blkiotune): live values go to and come from the
// guest's cgroup (cgroup_setup.go), config values from the persistent
// definition's <cputune>, <memtune> and <blkiotune>.

const typedParamStringOkay = 4

// checkFlagsFn is virCheckFlags (virReportInvalidArg: no prefix).
func checkFlagsFn(flags, allowed uint32, fn string) error {
	if bad := flags &^ allowed; bad != 0 {
		return errFlagsFn(bad, fn)
	}
	return nil
}

// tuneDefs is virDomainObjGetDefs under the guest's lock: the live and
// persistent definitions the flags select (nil when not selected).
func tuneDefs(v *vm, flags uint32) (live, persistent *conf.Domain, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	l, c, err := impact(flags&(affectLive|affectConfig), v.active())
	if err != nil {
		return nil, nil, err
	}
	if c && v.def == nil {
		return nil, nil, errQEMU(virerr.ErrOperationInvalid, "transient domains do not have any persistent config")
	}
	if l {
		live = v.live
	}
	if c {
		persistent = v.def
	}
	return live, persistent, nil
}

func privileged() bool { return os.Geteuid() == 0 }

// cgroupFor is the running guest's group, with libvirt's error when it
// lacks controller c.
func cgroupFor(v *vm, c, msg string) (*cgroup.Group, error) {
	g := guestCgroup(v)
	if g == nil || !g.Has(c) {
		return nil, errQEMU(virerr.ErrOperationInvalid, "%s", msg)
	}
	return g, nil
}

// updateDefs applies edit to clones of the selected definitions and
// installs them: the live one in the status, the persistent one on disk.
func (c *conn) updateDefs(v *vm, live, persistent bool, edit func(d *conf.Domain) error) error {
	if live {
		v.mu.Lock()
		cur := v.live
		v.mu.Unlock()
		if cur != nil {
			next := cur.Clone()
			if err := edit(next); err != nil {
				return err
			}
			v.mu.Lock()
			v.live = next
			v.mu.Unlock()
			c.d.saveStatusLogged(v)
		}
	}
	if persistent {
		v.mu.Lock()
		cur := v.def
		v.mu.Unlock()
		if cur != nil {
			next := cur.Clone()
			if err := edit(next); err != nil {
				return err
			}
			if err := c.d.saveDef(next); err != nil {
				return err
			}
			v.mu.Lock()
			v.def = next
			v.mu.Unlock()
		}
	}
	return nil
}

func (c *conn) DomainGetSchedulerType(h driver.Domain) (string, int32, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return "", 0, err
	}
	if !privileged() {
		return "", 0, errQEMU(virerr.ErrOperationUnsupported, "CPU tuning is not available in session mode")
	}
	v.mu.Lock()
	active := v.active()
	v.mu.Unlock()
	if !active {
		return "posix", 9, nil
	}
	g, err := cgroupFor(v, cgroup.CPU, "cgroup CPU controller is not mounted")
	if err != nil {
		return "", 0, err
	}
	if g.SupportsCPUBW() {
		return "posix", 9, nil
	}
	return "posix", 1, nil
}

// schedData is virDomainCputune's scheduler part.
type schedData struct {
	shares                                               uint64
	period, emulatorPeriod, globalPeriod, iothreadPeriod uint64
	quota, emulatorQuota, globalQuota, iothreadQuota     int64
}

func (s schedData) params(bw bool) []driver.TypedParam {
	out := []driver.TypedParam{{Field: "cpu_shares", Value: s.shares}}
	if bw {
		out = append(out,
			driver.TypedParam{Field: "vcpu_period", Value: s.period},
			driver.TypedParam{Field: "vcpu_quota", Value: s.quota},
			driver.TypedParam{Field: "emulator_period", Value: s.emulatorPeriod},
			driver.TypedParam{Field: "emulator_quota", Value: s.emulatorQuota},
			driver.TypedParam{Field: "global_period", Value: s.globalPeriod},
			driver.TypedParam{Field: "global_quota", Value: s.globalQuota},
			driver.TypedParam{Field: "iothread_period", Value: s.iothreadPeriod},
			driver.TypedParam{Field: "iothread_quota", Value: s.iothreadQuota})
	}
	return out
}

func (c *conn) DomainGetSchedulerParameters(h driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlagsFn(flags, affectLive|affectConfig|typedParamStringOkay, "qemuDomainGetSchedulerParametersFlags"); err != nil {
		return nil, err
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	if !privileged() {
		return nil, errQEMU(virerr.ErrConfigUnsupported, "CPU tuning is not available in session mode")
	}
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return nil, err
	}
	if persistent != nil {
		t, err := command.ParseTunables(persistent)
		if err != nil {
			return nil, err
		}
		return schedData{t.Shares, t.Period, t.EmulatorPeriod, t.GlobalPeriod, t.IOThreadPeriod,
			t.Quota, t.EmulatorQuota, t.GlobalQuota, t.IOThreadQuota}.params(true), nil
	}
	_ = live
	g, err := cgroupFor(v, cgroup.CPU, "cgroup CPU controller is not mounted")
	if err != nil {
		return nil, err
	}
	var s schedData
	if s.shares, err = g.CPUShares(); err != nil {
		return nil, cgErr(err)
	}
	if !g.SupportsCPUBW() {
		return s.params(false), nil
	}
	// vCPU 0's group stands for all vCPUs, the first iothread's for
	// all iothreads (the guest's own group without iothreads).
	read := func(kind string, id int, period *uint64, quota *int64) error {
		sub := g
		if kind != "" {
			if sub, err = g.Thread(kind, id, false); err != nil {
				return cgErr(err)
			}
		}
		p, q, err := sub.CPUPeriodQuota()
		if err != nil {
			return cgErr(err)
		}
		*period, *quota = p, q
		return nil
	}
	if err := read(cgroup.ThreadVCPU, 0, &s.period, &s.quota); err != nil {
		return nil, err
	}
	if err := read(cgroup.ThreadEmulator, 0, &s.emulatorPeriod, &s.emulatorQuota); err != nil {
		return nil, err
	}
	if err := read("", 0, &s.globalPeriod, &s.globalQuota); err != nil {
		return nil, err
	}
	kind, id := "", 0
	v.mu.Lock()
	cur := v.live
	v.mu.Unlock()
	if ids := iothreadIDs(cur); len(ids) > 0 {
		kind, id = cgroup.ThreadIOThread, ids[0]
	}
	if err := read(kind, id, &s.iothreadPeriod, &s.iothreadQuota); err != nil {
		return nil, err
	}
	return s.params(true), nil
}

// iothreadIDs are the guest's iothread ids in definition order
// (<iothreadids>, else 1..<iothreads>).
func iothreadIDs(def *conf.Domain) []int {
	if def == nil {
		return nil
	}
	t := def.Tree()
	var out []int
	if ids := t.Child("iothreadids"); ids != nil {
		for _, e := range ids.Children("iothread") {
			if s, ok := e.Attr("id"); ok {
				if n, err := strconv.Atoi(s); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	if len(out) == 0 {
		if e := t.Child("iothreads"); e != nil {
			n, _ := strconv.Atoi(e.Text())
			for i := 1; i <= n; i++ {
				out = append(out, i)
			}
		}
	}
	return out
}

// vcpuIndexes are the online vCPUs whose groups exist.
func vcpuCount(def *conf.Domain) int {
	if def == nil {
		return 0
	}
	return int(def.CurrentVCPUs)
}

var schedParamTypes = map[string]string{
	"cpu_shares": "ullong", "vcpu_period": "ullong", "vcpu_quota": "llong",
	"global_period": "ullong", "global_quota": "llong", "emulator_period": "ullong",
	"emulator_quota": "llong", "iothread_period": "ullong", "iothread_quota": "llong",
}

// schedElem is each scheduler parameter's <cputune> element.
var schedElem = map[string]string{
	"cpu_shares": "shares", "vcpu_period": "period", "vcpu_quota": "quota",
	"global_period": "global_period", "global_quota": "global_quota",
	"emulator_period": "emulator_period", "emulator_quota": "emulator_quota",
	"iothread_period": "iothread_period", "iothread_quota": "iothread_quota",
}

func (c *conn) DomainSetSchedulerParameters(h driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainSetSchedulerParametersFlags"); err != nil {
		return err
	}
	if err := driver.ValidateParams(params, schedParamTypes); err != nil {
		return err
	}
	if _, err := c.d.doms.get(h); err != nil {
		return err
	}
	if !privileged() {
		return errQEMU(virerr.ErrConfigUnsupported, "CPU tuning is not available in session mode")
	}
	v, err := c.jobVM(h, "schedinfo")
	if err != nil {
		return err
	}
	defer v.job.release()
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return err
	}
	var g *cgroup.Group
	if live != nil {
		if g, err = cgroupFor(v, cgroup.CPU, "cgroup CPU controller is not mounted"); err != nil {
			return err
		}
	}
	var liveSet, configSet []driver.TypedParam
	var failed error
	for _, p := range params {
		var ul uint64
		var l int64
		switch x := p.Value.(type) {
		case uint64:
			ul = x
		case int64:
			l = x
		}
		period := strings.HasSuffix(p.Field, "_period")
		switch {
		case p.Field == "cpu_shares":
		case period && ul > 0 && ul < cgroup.PeriodMin, period && ul > cgroup.PeriodMax:
			failed = errQEMU(virerr.ErrInvalidArg, "value of '%s' is out of range [%d, %d]", p.Field, cgroup.PeriodMin, cgroup.PeriodMax)
		case !period && (l > 0 && l < cgroup.QuotaMin || l > cgroup.QuotaMax):
			failed = errQEMU(virerr.ErrInvalidArg, "value of '%s' is out of range [%d, %d]", p.Field, cgroup.QuotaMin, cgroup.QuotaMax)
		}
		if failed != nil {
			break
		}
		if g != nil && (p.Field == "cpu_shares" || ul != 0 || l != 0) {
			if err := c.applySched(v, g, p.Field, ul, l); err != nil {
				failed = err
				break
			}
			liveSet = append(liveSet, p)
		}
		if persistent != nil {
			configSet = append(configSet, p)
		}
	}
	// What was applied stays recorded, as libvirt saves the status even
	// when a later parameter fails.
	put := func(set []driver.TypedParam) func(d *conf.Domain) error {
		return func(d *conf.Domain) error {
			for _, p := range set {
				d.SetValue("cputune/"+schedElem[p.Field], fmt.Sprint(p.Value))
			}
			return nil
		}
	}
	if len(liveSet) > 0 {
		c.updateDefs(v, true, false, put(liveSet))
	}
	if len(liveSet) > 0 && failed == nil {
		// virDomainEventTunableNewFromDom with the cputune.* names.
		ev := make([]driver.TypedParam, len(liveSet))
		for i, p := range liveSet {
			ev[i] = driver.TypedParam{Field: "cputune." + p.Field, Value: p.Value}
		}
		v.mu.Lock()
		hd := v.handle()
		v.mu.Unlock()
		c.d.bus.Publish(driver.DomainEvent{ID: driver.EventIDTunable, Dom: hd, Payload: ev})
	}
	if failed != nil {
		return failed
	}
	if persistent != nil {
		return c.updateDefs(v, false, true, put(configSet))
	}
	return nil
}

// applySched writes one scheduler parameter into the running guest's
// groups (qemuSetVcpusBWLive, qemuSetEmulatorBandwidthLive,
// qemuSetGlobalBWLive, qemuSetIOThreadsBWLive).
func (c *conn) applySched(v *vm, g *cgroup.Group, field string, ul uint64, l int64) error {
	period, quota := ul, l
	v.mu.Lock()
	cur := v.live
	v.mu.Unlock()
	var kind string
	var ids []int
	switch field {
	case "cpu_shares":
		if err := g.SetCPUShares(ul); err != nil {
			return cgErr(err)
		}
		return nil
	case "vcpu_period", "vcpu_quota":
		kind = cgroup.ThreadVCPU
		for i := 0; i < vcpuCount(cur); i++ {
			ids = append(ids, i)
		}
	case "emulator_period", "emulator_quota":
		kind, ids = cgroup.ThreadEmulator, []int{0}
	case "iothread_period", "iothread_quota":
		kind, ids = cgroup.ThreadIOThread, iothreadIDs(cur)
	case "global_period", "global_quota":
	}
	if kind == "" {
		if err := g.SetupCPUPeriodQuota(period, quota); err != nil {
			return cgErr(err)
		}
		return nil
	}
	for _, id := range ids {
		sub, err := g.Thread(kind, id, false)
		if err != nil {
			return cgErr(err)
		}
		if err := sub.SetupCPUPeriodQuota(period, quota); err != nil {
			return cgErr(err)
		}
	}
	return nil
}
