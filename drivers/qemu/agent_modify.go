package qemu

import (
	"encoding/base64"
	"encoding/json"
	"math"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/agent"
	"govirt/virerr"
)

// The agent calls that change the guest (libvirt's VIR_AGENT_JOB_MODIFY
// calls): file system freeze/thaw/trim, user passwords, the guest clock
// and guest vCPUs. Like the read calls they hold only the agent job.

var (
	_ driver.DomainGuestFS         = (*conn)(nil)
	_ driver.DomainGuestVcpuSetter = (*conn)(nil)
)

// agentInt reads an agent's integer "return" as
// virJSONValueObjectGetNumberInt.
func agentInt(c *conn, ag *agent.Agent, name string, args any) (int32, error) {
	var raw json.RawMessage
	if err := ag.Command(c.waitCtx(), name, args, &raw); err != nil {
		return 0, agentErr(err)
	}
	var n json.Number
	err := json.Unmarshal(raw, &n)
	i, err2 := n.Int64()
	if err != nil || err2 != nil || i < math.MinInt32 || i > math.MaxInt32 {
		return 0, errQEMU(virerr.ErrInternalError, "malformed return value")
	}
	return int32(i), nil
}

// agentFreeze is qemuSnapshotFSFreeze: the agent check, then
// guest-fsfreeze-freeze(-list); the number of frozen file systems.
func agentFreeze(c *conn, v *vm, mountpoints []string) (int32, error) {
	ag, err := v.agentAvailable()
	if err != nil {
		return -1, err
	}
	if len(mountpoints) > 0 {
		return agentInt(c, ag, "guest-fsfreeze-freeze-list", map[string]any{"mountpoints": mountpoints})
	}
	return agentInt(c, ag, "guest-fsfreeze-freeze", nil)
}

// agentThaw is qemuSnapshotFSThaw: guest-fsfreeze-thaw.
func agentThaw(c *conn, v *vm) (int32, error) {
	ag, err := v.agentAvailable()
	if err != nil {
		return -1, err
	}
	return agentInt(c, ag, "guest-fsfreeze-thaw", nil)
}

// agentJob runs fn under v's agent job after virDomainObjCheckActive,
// leaving the agent check to fn (the freeze helpers do it themselves,
// as libvirt's snapshot code shares them).
func (c *conn) agentJob(h driver.Domain, op string, fn func(v *vm) error) error {
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	if err := v.beginAgentJob(c.waitCtx(), c.owner(op)); err != nil {
		return err
	}
	defer v.endAgentJob()
	v.mu.Lock()
	err = v.goneErr()
	active := v.active()
	v.mu.Unlock()
	if err != nil {
		return err
	}
	if !active {
		return errNotRunning()
	}
	return fn(v)
}

// DomainFSFreeze is qemuDomainFSFreeze.
func (c *conn) DomainFSFreeze(h driver.Domain, mountpoints []string, flags uint32) (int32, error) {
	if flags != 0 {
		return -1, errFlagsFn(flags, "qemuDomainFSFreeze")
	}
	var n int32
	err := c.agentJob(h, "fsfreeze", func(v *vm) error {
		var err error
		n, err = agentFreeze(c, v, mountpoints)
		return err
	})
	return n, err
}

// DomainFSThaw is qemuDomainFSThaw: thaws everything (the agent has no
// per-mount-point thaw).
func (c *conn) DomainFSThaw(h driver.Domain, mountpoints []string, flags uint32) (int32, error) {
	if flags != 0 {
		return -1, errFlagsFn(flags, "qemuDomainFSThaw")
	}
	if len(mountpoints) > 0 {
		return -1, errQEMU(virerr.ErrArgumentUnsupported, "specifying mountpoints is not supported")
	}
	var n int32
	err := c.agentJob(h, "fsthaw", func(v *vm) error {
		var err error
		n, err = agentThaw(c, v)
		return err
	})
	return n, err
}

// DomainFSTrim is qemuDomainFSTrim: guest-fstrim of every file system.
func (c *conn) DomainFSTrim(h driver.Domain, mountPoint *string, minimum uint64, flags uint32) error {
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainFSTrim")
	}
	if mountPoint != nil {
		return errQEMU(virerr.ErrArgumentUnsupported, "Specifying mount point is not supported for now")
	}
	return c.withAgent(h, "fstrim", true, func(v *vm, ag *agent.Agent) error {
		return agentErr(ag.Command(c.waitCtx(), "guest-fstrim", map[string]any{"minimum": minimum}, nil))
	})
}

// DomainSetUserPassword is qemuDomainSetUserPassword:
// guest-set-user-password with the password base64-encoded.
func (c *conn) DomainSetUserPassword(h driver.Domain, user, password string, flags uint32) error {
	if flags&^domainPasswordEncrypted != 0 {
		return errFlagsFn(flags&^domainPasswordEncrypted, "qemuDomainSetUserPassword")
	}
	return c.withAgent(h, "set user password", true, func(v *vm, ag *agent.Agent) error {
		args := map[string]any{
			"crypted":  flags&domainPasswordEncrypted != 0,
			"username": user,
			"password": base64.StdEncoding.EncodeToString([]byte(password)),
		}
		return agentErr(ag.Command(c.waitCtx(), "guest-set-user-password", args, nil))
	})
}

// DomainSetTime is qemuDomainSetTime: guest-set-time (without a time
// with --sync: the guest reads its RTC), then rtc-reset-reinjection on
// the monitor under the normal job, as x86 needs.
func (c *conn) DomainSetTime(h driver.Domain, sec int64, nsec uint32, flags uint32) error {
	if flags&^domainTimeSync != 0 {
		return errFlagsFn(flags&^domainTimeSync, "qemuDomainSetTime")
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	// As libvirt, an x86 guest whose QEMU lacks rtc-reset-reinjection
	// never gets its time set; a shut-off guest has no QEMU capabilities,
	// so it gets this error too (before "domain is not running").
	v.mu.Lock()
	qc, arch := v.caps, v.current().OS.Arch
	v.mu.Unlock()
	hasReinject := qc != nil && qc.Has("rtc-reset-reinjection")
	if isX86(arch) && !hasReinject {
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "cannot set time: qemu doesn't support rtc-reset-reinjection command")
	}
	err = c.withAgent(h, "set time", true, func(v *vm, ag *agent.Agent) error {
		var args any
		if flags&domainTimeSync == 0 {
			if sec > math.MaxInt64/1000000000 {
				return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "Time '%d' is too big for guest agent", sec)
			}
			args = map[string]any{"time": sec*1000000000 + int64(nsec)}
		}
		return agentErr(ag.Command(c.waitCtx(), "guest-set-time", args, nil))
	})
	if err != nil {
		return err
	}
	return c.withJob(h, "set time", func(v *vm, mon monitor) error {
		if !hasReinject {
			return nil
		}
		if err := mon.Execute(c.waitCtx(), "rtc-reset-reinjection", nil, nil); err != nil {
			return qmpFailed("rtc-reset-reinjection", err)
		}
		return nil
	})
}

// guestVcpuMaxID is QEMU_GUEST_VCPU_MAX_ID.
const guestVcpuMaxID = 4096

// DomainSetGuestVcpus is qemuDomainSetGuestVcpus: reads the guest's
// vCPUs, checks the request against them, then guest-set-vcpus for the
// changed ones (again for the rest when the agent did only some).
func (c *conn) DomainSetGuestVcpus(h driver.Domain, cpumap string, state int32, flags uint32) error {
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainSetGuestVcpus")
	}
	if state != 0 && state != 1 {
		return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported state value")
	}
	ids, err := conf.ParseBitmap(cpumap)
	if err == nil && len(ids) > 0 && ids[len(ids)-1] >= guestVcpuMaxID {
		err = virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "Failed to parse bitmap '%s'", cpumap)
	}
	if err != nil {
		return err
	}
	want := map[int]bool{}
	for _, i := range ids {
		want[i] = true
	}
	return c.withAgent(h, "set guest vcpus", false, func(v *vm, ag *agent.Agent) error {
		return agentSetVcpus(c, ag, want, state)
	})
}

// agentSetVcpus is the agent part of qemuDomainSetGuestVcpus: want are
// the ids to set online (state 1) or offline (0).
func agentSetVcpus(c *conn, ag *agent.Agent, want map[int]bool, state int32) error {
	var list []struct {
		ID      *uint32 `json:"logical-id"`
		Online  *bool   `json:"online"`
		Offline *bool   `json:"can-offline"`
	}
	if err := ag.Command(c.waitCtx(), "guest-get-vcpus", nil, &list); err != nil {
		if _, ok := err.(*agent.MalformedError); ok {
			return errQEMU(virerr.ErrInternalError, "guest-get-vcpus reply was missing return data")
		}
		return agentErr(err)
	}
	type change struct {
		ID     uint32 `json:"logical-id"`
		Online bool   `json:"online"`
	}
	var todo []change
	for _, e := range list {
		if e.ID == nil || e.Online == nil || e.Offline == nil {
			return errQEMU(virerr.ErrInternalError, "'logical-id' missing in reply of guest-get-vcpus")
		}
		if !want[int(*e.ID)] {
			continue
		}
		if state == 0 && !*e.Offline {
			return virerr.New(virerr.FromQemu, virerr.ErrOperationUnsupported, "vCPU '%d' is not offlinable", *e.ID)
		}
		todo = append(todo, change{ID: *e.ID, Online: state == 1})
		delete(want, int(*e.ID))
	}
	if len(want) > 0 {
		var rest []int
		for i := range want {
			rest = append(rest, i)
		}
		return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "guest is missing vCPUs '%s'", formatCPUList(rest))
	}
	for len(todo) > 0 {
		n, err := agentInt(c, ag, "guest-set-vcpus", map[string]any{"vcpus": todo})
		if err != nil {
			return err
		}
		if n <= 0 || int(n) > len(todo) {
			return errQEMU(virerr.ErrInternalError, "guest agent returned malformed or invalid return value")
		}
		todo = todo[n:]
	}
	return nil
}

// quiesced is the --quiesce part of qemuSnapshotCreateActiveExternal:
// freeze the guest's file systems (under the agent job) before fn takes
// the snapshot and thaw them after it, whatever fn returns; a failed
// thaw is the call's error only when the snapshot itself worked.
func (c *conn) quiesced(v *vm, quiesce bool, fn func() error) error {
	if !quiesce {
		return fn()
	}
	if err := v.beginAgentJob(c.waitCtx(), c.owner("snapshot quiesce")); err != nil {
		return err
	}
	v.mu.Lock()
	active := v.active()
	v.mu.Unlock()
	if !active {
		v.endAgentJob()
		return errNotRunning()
	}
	frozen, err := agentFreeze(c, v, nil)
	v.endAgentJob()
	if err != nil {
		return err
	}
	err = fn()
	if frozen > 0 {
		if jerr := v.beginAgentJob(c.waitCtx(), c.owner("snapshot thaw")); jerr == nil {
			v.mu.Lock()
			active := v.active()
			v.mu.Unlock()
			if active {
				if _, terr := agentThaw(c, v); terr != nil && err == nil {
					err = terr
				}
			}
			v.endAgentJob()
		}
	}
	return err
}
