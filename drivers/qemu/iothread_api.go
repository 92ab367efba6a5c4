package qemu

import (
	"context"
	"math"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/internal/cgroup"
	"govirt/virerr"
)

// virsh iothreadadd, iothreaddel and iothreadset as libvirt's
// qemuDomainChgIOThread: the persistent definition is changed on a copy
// and saved only once the live change succeeded; a live iothread is a QOM
// object (object-add/object-del "iothreadN"), its thread goes to its
// iothreadN cgroup with the guest's iothread bandwidth and CPU set, and
// its polling and thread-pool knobs are QOM properties (qom-set).

// ioThreadMon is one entry of query-iothreads.
type ioThreadMon struct {
	ID         string `json:"id"`
	ThreadID   int    `json:"thread-id"`
	PollMaxNs  *int64 `json:"poll-max-ns"`
	PollGrow   *int64 `json:"poll-grow"`
	PollShrink *int64 `json:"poll-shrink"`
}

// num is the iothread id of QEMU's "iothreadN" (false for other ids, which
// libvirt skips).
func (t ioThreadMon) num() (int, bool) {
	s, ok := strings.CutPrefix(t.ID, "iothread")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// queryIOThreads is qemuMonitorGetIOThreads: only libvirt's own iothreads.
func queryIOThreads(ctx context.Context, mon monitor) ([]ioThreadMon, error) {
	var all []ioThreadMon
	if err := mon.Execute(ctx, "query-iothreads", nil, &all); err != nil {
		return nil, err
	}
	var out []ioThreadMon
	for _, t := range all {
		if _, ok := t.num(); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// ioThreadChange is qemuMonitorIOThreadInfo's settable part: nil is "not
// given".
type ioThreadChange struct {
	id                           uint32
	pollMaxNs                    *uint64
	pollGrow, pollShrink         *uint32
	threadPoolMin, threadPoolMax *int32
}

func (c ioThreadChange) setsPolling() bool {
	return c.pollMaxNs != nil || c.pollGrow != nil || c.pollShrink != nil
}

// ioThreadParamTypes are qemuDomainIOThreadParseParams's fields.
var ioThreadParamTypes = map[string]string{"poll_max_ns": "ullong", "poll_grow": "uint", "poll_shrink": "uint",
	"thread_pool_min": "int", "thread_pool_max": "int"}

// parseIOThreadParams is qemuDomainIOThreadParseParams.
func parseIOThreadParams(id uint32, params []driver.TypedParam) (ioThreadChange, error) {
	ch := ioThreadChange{id: id}
	if err := driver.ValidateParams(params, ioThreadParamTypes); err != nil {
		return ch, err
	}
	// virTypedParamsGet* take the first of a repeated field.
	for i := len(params) - 1; i >= 0; i-- {
		switch p := params[i]; p.Field {
		case "poll_max_ns":
			v := p.Value.(uint64)
			ch.pollMaxNs = &v
		case "poll_grow":
			v := p.Value.(uint32)
			ch.pollGrow = &v
		case "poll_shrink":
			v := p.Value.(uint32)
			ch.pollShrink = &v
		case "thread_pool_min":
			v := p.Value.(int32)
			ch.threadPoolMin = &v
		case "thread_pool_max":
			v := p.Value.(int32)
			ch.threadPoolMax = &v
		}
	}
	switch {
	case ch.pollMaxNs != nil && *ch.pollMaxNs > math.MaxInt32:
		return ch, errQEMU(virerr.ErrConfigUnsupported, "poll-max-ns (%d) must be less than or equal to %d", *ch.pollMaxNs, math.MaxInt32)
	case ch.pollGrow != nil && *ch.pollGrow > math.MaxInt32:
		return ch, errQEMU(virerr.ErrConfigUnsupported, "poll-grow (%d) must be less than or equal to %d", *ch.pollGrow, math.MaxInt32)
	case ch.pollShrink != nil && *ch.pollShrink > math.MaxInt32:
		return ch, errQEMU(virerr.ErrConfigUnsupported, "poll-shrink (%d) must be less than or equal to %d", *ch.pollShrink, math.MaxInt32)
	case ch.threadPoolMin != nil && *ch.threadPoolMin < -1:
		return ch, errQEMU(virerr.ErrConfigUnsupported, "thread_pool_min (%d) must be equal to or greater than -1", *ch.threadPoolMin)
	case ch.threadPoolMax != nil && (*ch.threadPoolMax < -1 || *ch.threadPoolMax == 0):
		return ch, errQEMU(virerr.ErrConfigUnsupported, "thread_pool_max (%d) must be a positive number or -1", *ch.threadPoolMax)
	}
	return ch, nil
}

// validateIOThreadChange is qemuDomainIOThreadValidate against the
// thread's current pool bounds in def.
func validateIOThreadChange(def *conf.Domain, ch ioThreadChange, live bool) error {
	lo, hi := def.IOThreadPool(int(ch.id))
	if ch.threadPoolMin != nil {
		if live && *ch.threadPoolMin < 0 {
			return errQEMU(virerr.ErrOperationInvalid, "thread_pool_min (%d) must be equal to or greater than 0 for live change", *ch.threadPoolMin)
		}
		lo = int(*ch.threadPoolMin)
	}
	if ch.threadPoolMax != nil {
		if live && *ch.threadPoolMax < 0 {
			return errQEMU(virerr.ErrOperationInvalid, "thread_pool_max (%d) must be equal to or greater than 0 for live change", *ch.threadPoolMax)
		}
		hi = int(*ch.threadPoolMax)
	}
	if lo > hi {
		return errQEMU(virerr.ErrOperationInvalid, "thread_pool_min (%d) can't be greater than thread_pool_max (%d)", lo, hi)
	}
	return nil
}

// applyPool writes a change's pool bounds into def (qemuDomainHotplugModIOThreadIDDef).
func applyPool(def *conf.Domain, ch ioThreadChange) {
	var lo, hi *int
	if ch.threadPoolMin != nil {
		v := int(*ch.threadPoolMin)
		lo = &v
	}
	if ch.threadPoolMax != nil {
		v := int(*ch.threadPoolMax)
		hi = &v
	}
	if lo != nil || hi != nil {
		def.SetIOThreadPool(int(ch.id), lo, hi)
	}
}

func hasIOThread(def *conf.Domain, id uint32) bool {
	for _, x := range def.IOThreadIDs() {
		if x == int(id) {
			return true
		}
	}
	return false
}

// addIOThreadCheck and delIOThreadCheck are virDomainDriverAddIOThreadCheck
// and virDomainDriverDelIOThreadCheck.
func addIOThreadCheck(def *conf.Domain, id uint32) error {
	if hasIOThread(def, id) {
		return errQEMU(virerr.ErrInvalidArg, "an IOThread is already using iothread_id '%d'", id)
	}
	return nil
}

func delIOThreadCheck(def *conf.Domain, id uint32) error {
	if !hasIOThread(def, id) {
		return errQEMU(virerr.ErrInvalidArg, "cannot find IOThread '%d' in iothreadids list", id)
	}
	want := strconv.Itoa(int(id))
	for _, disk := range def.Devices.Disks {
		if drv := conf.DeviceElement(disk).Child("driver"); drv != nil {
			if v, _ := drv.Attr("iothread"); v == want {
				return errQEMU(virerr.ErrInvalidArg, "cannot remove IOThread %d since it is being used by disk '%s'", id, disk.TargetDev)
			}
		}
	}
	if devs := def.Tree().Child("devices"); devs != nil {
		for _, ctl := range devs.Children("controller") {
			if drv := ctl.Child("driver"); drv != nil {
				if v, _ := drv.Attr("iothread"); v == want {
					return errQEMU(virerr.ErrInvalidArg, "cannot remove IOThread '%d' since it is being used by controller", id)
				}
			}
		}
	}
	return nil
}

type ioThreadAction int

const (
	ioThreadAdd ioThreadAction = iota
	ioThreadDel
	ioThreadMod
)

func (c *conn) DomainAddIOThread(h driver.Domain, id uint32, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainAddIOThread"); err != nil {
		return err
	}
	if id == 0 {
		return errQEMU(virerr.ErrInvalidArg, "invalid value of 0 for iothread_id")
	}
	return c.chgIOThread(h, ioThreadChange{id: id}, ioThreadAdd, flags)
}

func (c *conn) DomainDelIOThread(h driver.Domain, id uint32, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainDelIOThread"); err != nil {
		return err
	}
	if id == 0 {
		return errQEMU(virerr.ErrInvalidArg, "invalid value of 0 for iothread_id")
	}
	return c.chgIOThread(h, ioThreadChange{id: id}, ioThreadDel, flags)
}

// DomainSetIOThreadParams is qemuDomainSetIOThreadParams.
func (c *conn) DomainSetIOThreadParams(h driver.Domain, id uint32, params []driver.TypedParam, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainSetIOThreadParams"); err != nil {
		return err
	}
	if id == 0 {
		return errQEMU(virerr.ErrInvalidArg, "invalid value of 0 for iothread_id")
	}
	if _, err := c.d.doms.get(h); err != nil {
		return err
	}
	ch, err := parseIOThreadParams(id, params)
	if err != nil {
		return err
	}
	return c.chgIOThread(h, ch, ioThreadMod, flags)
}

func (c *conn) chgIOThread(h driver.Domain, ch ioThreadChange, action ioThreadAction, flags uint32) error {
	v, err := c.jobVM(h, "iothread")
	if err != nil {
		return err
	}
	defer v.job.release()
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return err
	}
	var next *conf.Domain
	if persistent != nil {
		next = persistent.Clone()
		switch action {
		case ioThreadAdd:
			if err := addIOThreadCheck(next, ch.id); err != nil {
				return err
			}
			next.AddIOThreadID(int(ch.id))
		case ioThreadDel:
			if err := delIOThreadCheck(next, ch.id); err != nil {
				return err
			}
			next.DelIOThreadID(int(ch.id))
		case ioThreadMod:
			if !hasIOThread(next, ch.id) {
				return errQEMU(virerr.ErrInvalidArg, "cannot find IOThread '%d' in iothreadids", ch.id)
			}
			if err := validateIOThreadChange(next, ch, false); err != nil {
				return err
			}
			if ch.setsPolling() {
				return errQEMU(virerr.ErrOperationUnsupported, "configuring persistent polling values is not supported")
			}
			applyPool(next, ch)
		}
	}
	if live != nil {
		var err error
		switch action {
		case ioThreadAdd:
			if err = addIOThreadCheck(live, ch.id); err == nil {
				err = c.hotplugAddIOThread(v, live, ch.id)
			}
		case ioThreadDel:
			if err = delIOThreadCheck(live, ch.id); err == nil {
				err = c.hotplugDelIOThread(v, live, ch.id)
			}
		case ioThreadMod:
			if !hasIOThread(live, ch.id) {
				return errQEMU(virerr.ErrInvalidArg, "cannot find IOThread '%d' in iothreadids", ch.id)
			}
			if err = validateIOThreadChange(live, ch, true); err == nil {
				err = c.modIOThread(v, ch)
			}
		}
		forgetStats(v)
		if err != nil {
			return err
		}
	}
	if next != nil {
		return c.d.publishConfig(v, next)
	}
	return nil
}

// hotplugAddIOThread is qemuDomainHotplugAddIOThread: the object, then its
// thread found in query-iothreads and set up as at start
// (qemuProcessSetupIOThread); the object goes again if that fails.
func (c *conn) hotplugAddIOThread(v *vm, live *conf.Domain, id uint32) error {
	mon := c.monitorOf(v)
	if mon == nil {
		return errNotRunning()
	}
	alias := "iothread" + strconv.Itoa(int(id))
	ctx := hotplugCtx()
	if err := mon.Execute(ctx, "object-add", map[string]any{"qom-type": "iothread", "id": alias}, nil); err != nil {
		return qmpError(err)
	}
	undo := func() {
		if err := mon.Execute(ctx, "object-del", map[string]any{"id": alias}, nil); err != nil {
			c.d.log.Warn("cannot delete the iothread object after a failed add", "domain", v.name, "iothread", id, "err", err)
		}
	}
	its, err := queryIOThreads(ctx, mon)
	if err != nil {
		undo()
		return qmpError(err)
	}
	if want := len(live.IOThreadIDs()) + 1; len(its) != want {
		undo()
		return errQEMU(virerr.ErrInternalError, "got wrong number of IOThread ids from QEMU monitor. got %d, wanted %d", len(its), want)
	}
	tid := 0
	for _, t := range its {
		if n, _ := t.num(); n == int(id) {
			tid = t.ThreadID
		}
	}
	if tid == 0 {
		undo()
		return errQEMU(virerr.ErrInternalError, "cannot find new IOThread '%d' in QEMU monitor.", id)
	}
	if err := c.d.setupNewIOThread(v, live, int(id), tid); err != nil {
		undo()
		return err
	}
	c.d.modifyLive(v, func(l *conf.Domain) { l.AddIOThreadID(int(id)) })
	return nil
}

// setupNewIOThread is qemuProcessSetupPid for a hot-plugged iothread: its
// own cgroup with the guest's iothread bandwidth and memory nodes, and
// the guest's CPU set (<vcpu cpuset>, else every host CPU) as affinity.
func (d *Driver) setupNewIOThread(v *vm, live *conf.Domain, id, tid int) error {
	t, err := command.ParseTunables(live)
	if err != nil {
		return err
	}
	var set []int
	if s, ok := live.Value("vcpu/@cpuset"); ok && s != "" {
		if set, err = conf.ParseBitmap(s); err != nil {
			return errQEMU(virerr.ErrInternalError, "invalid cpuset '%s'", s)
		}
	}
	if ap := vmAutoPlacement(v); ap != nil && live.VCPUPlacement == "auto" && len(ap.cpus) > 0 {
		set = ap.cpus // qemuProcessSetupPid's autoCpuset
	}
	if g := guestCgroup(v); g != nil {
		if err := setupThreadGroup(g, cgroup.ThreadIOThread, id, tid, false, set, t.IOThreadPeriod, t.IOThreadQuota); err != nil {
			return err
		}
		if err := setThreadMems(g, cgroup.ThreadIOThread, id, numaMemMask(live, vmAutoPlacement(v))); err != nil {
			return err
		}
	}
	if set == nil {
		set = hostCPUs()
	}
	if err := setAffinity(tid, set); err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot set CPU affinity on process %d: %v", tid, err)
	}
	return nil
}

// hotplugDelIOThread is qemuDomainHotplugDelIOThread: object-del, the
// count checked, the id and its group gone.
func (c *conn) hotplugDelIOThread(v *vm, live *conf.Domain, id uint32) error {
	mon := c.monitorOf(v)
	if mon == nil {
		return errNotRunning()
	}
	ctx := hotplugCtx()
	if err := mon.Execute(ctx, "object-del", map[string]any{"id": "iothread" + strconv.Itoa(int(id))}, nil); err != nil {
		return qmpError(err)
	}
	its, err := queryIOThreads(ctx, mon)
	if err != nil {
		return qmpError(err)
	}
	if want := len(live.IOThreadIDs()) - 1; len(its) != want {
		return errQEMU(virerr.ErrInternalError, "got wrong number of IOThread ids from QEMU monitor. got %d, wanted %d", len(its), want)
	}
	c.d.modifyLive(v, func(l *conf.Domain) { l.DelIOThreadID(int(id)) })
	if g := guestCgroup(v); g != nil && (g.Has(cgroup.CPU) || g.Has(cgroup.CPUSet)) {
		if sub, err := g.Thread(cgroup.ThreadIOThread, int(id), false); err == nil {
			if err := sub.Remove(); err != nil {
				return cgErr(err)
			}
		}
	}
	return nil
}

// modIOThread is qemuDomainHotplugModIOThread (qemuMonitorJSONSetIOThread):
// each given property set with qom-set; the pool's maximum first when the
// current one is below the new minimum. The live definition keeps the
// pool bounds (polling has no XML).
func (c *conn) modIOThread(v *vm, ch ioThreadChange) error {
	mon := c.monitorOf(v)
	if mon == nil {
		return errNotRunning()
	}
	ctx := hotplugCtx()
	path := "/objects/iothread" + strconv.Itoa(int(ch.id))
	set := func(prop string, val int64) error {
		if err := mon.Execute(ctx, "qom-set", map[string]any{"path": path, "property": prop, "value": val}, nil); err != nil {
			return qmpError(err)
		}
		return nil
	}
	for _, p := range []struct {
		name string
		val  *int64
	}{{"poll-max-ns", u64p(ch.pollMaxNs)}, {"poll-grow", u32p(ch.pollGrow)}, {"poll-shrink", u32p(ch.pollShrink)}} {
		if p.val != nil {
			if err := set(p.name, *p.val); err != nil {
				return err
			}
		}
	}
	maxFirst := false
	if ch.threadPoolMin != nil && ch.threadPoolMax != nil {
		var cur int64
		if err := mon.Execute(ctx, "qom-get", map[string]any{"path": path, "property": "thread-pool-max"}, &cur); err != nil {
			return qmpError(err)
		}
		maxFirst = cur < int64(*ch.threadPoolMin)
	}
	order := []struct {
		name string
		val  *int32
	}{{"thread-pool-min", ch.threadPoolMin}, {"thread-pool-max", ch.threadPoolMax}}
	if maxFirst {
		order[0], order[1] = order[1], order[0]
	}
	for _, p := range order {
		if p.val != nil {
			if err := set(p.name, int64(*p.val)); err != nil {
				return err
			}
		}
	}
	c.d.modifyLive(v, func(l *conf.Domain) { applyPool(l, ch) })
	return nil
}

func u64p(p *uint64) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

func u32p(p *uint32) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

// liveIOThreadInfo is qemuDomainGetIOThreadsLive: the iothreads QEMU
// has, in its order, each with its thread's real affinity.
func (c *conn) liveIOThreadInfo(h driver.Domain) ([]driver.IOThreadInfo, error) {
	v, err := c.jobVM(h, "iothreadinfo")
	if err != nil {
		return nil, err
	}
	defer v.job.release()
	mon := c.monitorOf(v)
	v.mu.Lock()
	active := v.active()
	v.mu.Unlock()
	if !active || mon == nil {
		return nil, errQEMU(virerr.ErrOperationInvalid, "cannot list IOThreads for an inactive domain")
	}
	its, err := queryIOThreads(hotplugCtx(), mon)
	if err != nil {
		return nil, qmpError(err)
	}
	var out []driver.IOThreadInfo
	for _, t := range its {
		n, _ := t.num()
		m, err := getAffinity(t.ThreadID)
		if err != nil {
			return nil, errQEMU(virerr.ErrSystemError, "cannot get CPU affinity of process %d: %v", t.ThreadID, err)
		}
		var cpus []int
		for i, w := range m {
			for b := 0; b < 64; b++ {
				if w&(1<<b) != 0 {
					cpus = append(cpus, i*64+b)
				}
			}
		}
		out = append(out, driver.IOThreadInfo{ID: uint32(n), CPUs: cpus})
	}
	return out, nil
}

// ioThreadStats is qemuDomainGetStatsIOThread: the count, and each
// thread's polling settings where QEMU reports them.
func ioThreadStats(p *paramList, its []ioThreadMon) {
	if len(its) == 0 {
		return
	}
	p.add("iothread.count", uint32(len(its)))
	for _, t := range its {
		if t.PollMaxNs == nil || t.PollGrow == nil || t.PollShrink == nil {
			continue
		}
		n, _ := t.num()
		p.add("iothread."+strconv.Itoa(n)+".poll-max-ns", uint64(*t.PollMaxNs))
		p.add("iothread."+strconv.Itoa(n)+".poll-grow", uint32(*t.PollGrow))
		p.add("iothread."+strconv.Itoa(n)+".poll-shrink", uint32(*t.PollShrink))
	}
}
