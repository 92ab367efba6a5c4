package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/agent"
	"govirt/qmp"
	"govirt/virerr"
)

// The guest agent connection of a running guest, as libvirt's QEMU
// driver keeps it: the channel org.qemu.guest_agent.0 is a unix socket
// QEMU serves; the driver connects to it when the guest opens its end of
// the port (VSERPORT_CHANGE, or query-chardev's frontend-open at start
// and after a daemon restart) and drops it when the guest closes it
// (qemu-ga stopped, guest reset or shut down). Each change sets the
// channel's state in the live XML and emits AGENT_LIFECYCLE.

const guestAgentChannel = "org.qemu.guest_agent.0"

// VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_* and _REASON_*, which
// are also virDomainChrDeviceState's values for the XML state.
const (
	agentConnected      = 1
	agentDisconnected   = 2
	agentReasonStarted  = 1
	agentReasonChannel  = 2
	agentTimeoutBlock   = -2
	agentTimeoutDefault = -1
)

// agentState is one guest's agent (vmExt.agent); its fields are guarded
// by mu. It outlives runs: the response timeout a user set stays, as
// libvirt's agentTimeout does.
type agentState struct {
	mu      sync.Mutex
	ag      *agent.Agent // nil when not connected
	errored bool         // connecting failed (libvirt's agentError)
	// timeout is libvirt's agentTimeout minus timeoutBias, so that the
	// zero value is VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_DEFAULT.
	timeout int32
	// job is libvirt's agent job: one agent call at a time per guest,
	// independent of the guest's normal job (agent calls never hold
	// that one, so a hung agent never blocks non-agent calls).
	job      chan struct{}
	jobOwner string
}

const timeoutBias = agentTimeoutDefault

func (s *agentState) responseTimeout() int32 { return s.timeout + timeoutBias }

// timeoutForStatus is the response timeout, locking s.
func (s *agentState) timeoutForStatus() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.responseTimeout()
}

// setTimeout records libvirt's timeout t and applies it to the agent.
func (s *agentState) setTimeout(t int32) {
	s.mu.Lock()
	s.timeout = t - timeoutBias
	if s.ag != nil {
		s.ag.SetTimeout(agentDuration(t))
	}
	s.mu.Unlock()
}

// agentDuration maps libvirt's timeout to the agent package's: BLOCK
// waits without limit, DEFAULT is 5 s, anything else seconds.
func agentDuration(t int32) time.Duration {
	switch {
	case t <= agentTimeoutBlock:
		return -1
	case t == agentTimeoutDefault:
		return agent.DefaultTimeout
	}
	return time.Duration(t) * time.Second
}

// beginAgentJob takes v's agent job for owner, waiting at most
// jobTimeout as libvirt's virDomainObjBeginAgentJob.
func (v *vm) beginAgentJob(ctx context.Context, owner string) error {
	s := &v.ext.agent
	s.mu.Lock()
	if s.job == nil {
		s.job = make(chan struct{}, 1)
	}
	job := s.job
	s.mu.Unlock()
	t := time.NewTimer(jobTimeout)
	defer t.Stop()
	select {
	case job <- struct{}{}:
		s.mu.Lock()
		s.jobOwner = owner
		s.mu.Unlock()
		return nil
	case <-t.C:
		s.mu.Lock()
		o := s.jobOwner
		s.mu.Unlock()
		if o == "" {
			return virerr.New(virerr.FromQemu, virerr.ErrOperationTimeout, "cannot acquire state change lock")
		}
		return virerr.New(virerr.FromQemu, virerr.ErrOperationTimeout, "cannot acquire state change lock (held by agent=%s)", o)
	case <-ctx.Done():
		return errQEMU(virerr.ErrOperationAborted, "operation aborted: the caller went away")
	}
}

func (v *vm) endAgentJob() {
	s := &v.ext.agent
	s.mu.Lock()
	s.jobOwner = ""
	job := s.job
	s.mu.Unlock()
	<-job
}

// agentChannel is qemuFindAgentConfig: the virtio channel named
// org.qemu.guest_agent.0, or nil.
func agentChannel(def *conf.Domain) *conf.Chardev {
	if def == nil {
		return nil
	}
	for _, ch := range def.Devices.Channels {
		if ch.TargetType == "virtio" && ch.TargetName == guestAgentChannel {
			return ch
		}
	}
	return nil
}

// agentAvailable is qemuDomainAgentAvailable: the connected agent, or
// libvirt's error saying why there is none.
func (v *vm) agentAvailable() (*agent.Agent, error) {
	v.mu.Lock()
	running := v.active() && v.state == driver.StateRunning
	broken := v.brokenMsg != ""
	configured := agentChannel(v.current()) != nil
	v.mu.Unlock()
	if !running {
		return nil, errNotRunning()
	}
	s := &v.ext.agent
	s.mu.Lock()
	ag, errored := s.ag, s.errored
	s.mu.Unlock()
	switch {
	case errored || broken:
		return nil, errQEMU(virerr.ErrAgentUnresponsive, "QEMU guest agent is not available due to an error")
	case ag != nil:
		return ag, nil
	case configured:
		return nil, errQEMU(virerr.ErrAgentUnresponsive, "QEMU guest agent is not connected")
	}
	return nil, errQEMU(virerr.ErrArgumentUnsupported, "QEMU guest agent is not configured")
}

// agentErr turns the agent package's errors into libvirt's.
func agentErr(err error) error {
	var ae *agent.Error
	var me *agent.MalformedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, agent.ErrTimeout), errors.Is(err, agent.ErrClosed):
		return errQEMU(virerr.ErrAgentUnresponsive, "%s", err.Error())
	case errors.As(err, &ae), errors.As(err, &me), errors.Is(err, agent.ErrNoReply):
		return errQEMU(virerr.ErrInternalError, "%s", err.Error())
	case errors.Is(err, context.Canceled):
		return errQEMU(virerr.ErrOperationAborted, "operation aborted: the caller went away")
	}
	return errQEMU(virerr.ErrInternalError, "%v", err)
}

// connectAgent is qemuConnectAgent: when the guest has opened its end of
// the agent channel and no agent is connected, connect. A failure marks
// the agent errored until the channel closes again.
func (d *Driver) connectAgent(v *vm) {
	v.mu.Lock()
	ch := agentChannel(v.live)
	var typ, path, state string
	if ch != nil {
		typ, path = ch.Type, ch.SourcePath
		state, _ = conf.DeviceElement(ch).Child("target").Attr("state")
	}
	name := v.name
	v.mu.Unlock()
	if ch == nil || state != "connected" {
		return
	}
	s := &v.ext.agent
	s.mu.Lock()
	have := s.ag != nil
	s.mu.Unlock()
	if have {
		return
	}
	if typ != "unix" {
		d.log.Warn("cannot connect to QEMU guest agent: channel is not a unix socket", "domain", name, "type", typ)
		s.mu.Lock()
		s.errored = true
		s.mu.Unlock()
		return
	}
	// Dialled without s.mu: saveStatus takes it under v.mu.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ag, err := agent.Dial(ctx, path)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		d.log.Warn("cannot connect to QEMU guest agent", "domain", name, "path", path, "err", err)
		s.errored = true
	case s.ag != nil: // connected meanwhile
		ag.Close()
	default:
		ag.SetTimeout(agentDuration(s.responseTimeout()))
		s.ag, s.errored = ag, false
	}
}

// closeAgent drops the agent connection (commands waiting on it fail
// with "Guest agent disappeared while executing command").
func closeAgent(v *vm) {
	s := &v.ext.agent
	s.mu.Lock()
	ag := s.ag
	s.ag, s.errored = nil, false
	s.mu.Unlock()
	if ag != nil {
		ag.Close()
	}
}

// setChannelStates records virtio channel states (by alias) in a new
// live definition; call with v.mu held. It reports the agent channel's
// new state, 0 when it did not change or is not among them.
func setChannelStates(v *vm, states map[string]int) (agentNew int) {
	if v.live == nil {
		return 0
	}
	live := v.live.Clone()
	changed := false
	for _, ch := range live.Devices.Channels {
		st, ok := states[ch.Alias]
		if !ok || ch.TargetType != "virtio" {
			continue
		}
		val := "connected"
		if st == agentDisconnected {
			val = "disconnected"
		}
		old, _ := conf.DeviceElement(ch).Child("target").Attr("state")
		conf.SetDeviceValue(ch, "target/@state", val)
		changed = true
		if ch.TargetName == guestAgentChannel && old != val {
			agentNew = st
		}
	}
	if changed {
		v.live = live
	}
	return agentNew
}

// publishAgent emits AGENT_LIFECYCLE.
func (d *Driver) publishAgent(v *vm, state, reason int32) {
	d.publishDomain(v, driver.EventIDAgentLifecycle, driver.AgentLifecycle{State: state, Reason: reason})
}

// refreshChannelStates is qemuRefreshVirtioChannelState: read every
// virtio channel's state from query-chardev (frontend-open), record it,
// emit AGENT_LIFECYCLE for the agent channel (reason "domain started"
// when booted) and connect the agent when the guest has it open. The
// caller holds v's job.
func (d *Driver) refreshChannelStates(ctx context.Context, v *vm, booted bool) {
	v.mu.Lock()
	mon, name := v.mon, v.name
	has := false
	if v.live != nil {
		for _, ch := range v.live.Devices.Channels {
			has = has || ch.TargetType == "virtio"
		}
	}
	v.mu.Unlock()
	if mon == nil || !has {
		return
	}
	infos, err := qmp.QueryChardev(ctx, mon)
	if err != nil {
		d.log.Warn("cannot read channel states", "domain", name, "err", err)
		return
	}
	open := map[string]bool{}
	for _, in := range infos {
		open[in.Label] = in.FrontendOpen
	}
	v.mu.Lock()
	states := map[string]int{}
	agentAlias := ""
	if v.live != nil {
		for _, ch := range v.live.Devices.Channels {
			o, ok := open["char"+ch.Alias]
			if ch.TargetType != "virtio" || !ok {
				continue
			}
			states[ch.Alias] = agentDisconnected
			if o {
				states[ch.Alias] = agentConnected
			}
			if ch.TargetName == guestAgentChannel {
				agentAlias = ch.Alias
			}
		}
	}
	setChannelStates(v, states)
	v.mu.Unlock()
	if agentAlias == "" {
		return
	}
	reason := int32(agentReasonChannel)
	if booted {
		reason = agentReasonStarted
	}
	// libvirt reports the agent channel's state here whether or not it
	// changed.
	d.publishAgent(v, int32(states[agentAlias]), reason)
	if states[agentAlias] == agentConnected {
		d.connectAgent(v)
	} else {
		closeAgent(v)
	}
}

// onSerialChange is processSerialChangedEvent: the guest opened or
// closed a virtio-serial port (VSERPORT_CHANGE). A closing agent channel
// is dropped at once, so agent calls waiting on it end now; the rest
// runs in v's worker under a job, as libvirt's.
func (d *Driver) onSerialChange(v *vm, alias string, open bool) {
	if !open {
		v.mu.Lock()
		ch := agentChannel(v.live)
		isAgent := ch != nil && ch.Alias == alias
		v.mu.Unlock()
		if isAgent {
			closeAgent(v)
		}
	}
	v.mu.Lock()
	if !v.active() {
		v.mu.Unlock()
		return
	}
	ctx, run := v.runContextLocked()
	v.mu.Unlock()
	v.work.submit(func() {
		if err := v.job.beginWait(ctx, jobModify, apiName("serial port change")); err != nil {
			return
		}
		defer v.job.end()
		v.mu.Lock()
		if !v.active() || v.run != run || v.live == nil {
			v.mu.Unlock()
			return
		}
		var ch *conf.Chardev
		for _, c := range v.live.Devices.Channels {
			if c.Alias == alias && c.TargetType == "virtio" {
				ch = c
			}
		}
		if ch == nil {
			v.mu.Unlock()
			return
		}
		isAgent := ch.TargetName == guestAgentChannel
		st := agentDisconnected
		if open {
			st = agentConnected
		}
		setChannelStates(v, map[string]int{alias: st})
		v.mu.Unlock()
		d.saveStatusLogged(v)
		if !isAgent {
			return
		}
		if open {
			d.connectAgent(v)
		} else {
			closeAgent(v)
		}
		d.publishAgent(v, int32(st), agentReasonChannel)
	})
}

// agentReset tells the agent the guest reset: whatever qemu-ga had
// half-written is stale, so the next command syncs first.
func agentReset(v *vm) {
	s := &v.ext.agent
	s.mu.Lock()
	ag := s.ag
	s.mu.Unlock()
	if ag != nil {
		ag.Desync()
	}
}

// channelDir is libvirt's per-run channel directory,
// channelTargetDir/domain-ID-NAME (qemuDomainSetPrivatePaths with
// virDomainDefGetShortName), under the run directory.
func (d *Driver) channelDir(id int32, name string) string {
	return filepath.Join(d.dirs.channels, fmt.Sprintf("domain-%d-%s", id, shortName(name)))
}

// shortName is virDomainDefGetShortName's name part: the first 20
// characters.
func shortName(name string) string {
	const max = 20
	n, i := 0, 0
	for i < len(name) && n < max {
		_, size := utf8.DecodeRuneInString(name[i:])
		i += size
		n++
	}
	return name[:i]
}

// prepareChannelDir creates the run's channel directory.
func (d *Driver) prepareChannelDir(id int32, name string) (string, error) {
	dir := d.channelDir(id, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", errQEMU(virerr.ErrOperationFailed, "cannot create the channel directory of '%s': %v", name, err)
	}
	return dir, nil
}
