package qemu

import (
	"encoding/json"
	"fmt"
	"strings"

	"govirt/driver"
	"govirt/drivers/qemu/agent"
	"govirt/virerr"
)

// The read calls answered by the guest agent, as libvirt's QEMU driver:
// each takes the guest's agent job (never its normal job, so a hung
// agent holds up only other agent calls, each at most its timeout),
// checks the agent is there (qemuDomainAgentAvailable) and runs its
// commands with the guest's agent timeout.

var (
	_ driver.DomainGuestAgent   = (*conn)(nil)
	_ driver.QemuAgentCommander = (*conn)(nil)
	_ driver.DomainFSInfoGetter = (*conn)(nil)
)

// withAgent runs fn with v's agent job held and its agent connected.
// checkActive adds libvirt's virDomainObjCheckActive before the agent
// check (most calls have it; guestvcpus and guestinfo do not).
func (c *conn) withAgent(h driver.Domain, op string, checkActive bool, fn func(v *vm, ag *agent.Agent) error) error {
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
	if checkActive && !active {
		return errNotRunning()
	}
	ag, err := v.agentAvailable()
	if err != nil {
		return err
	}
	return fn(v, ag)
}

// DomainGetTime is qemuDomainGetTime: guest-get-time, in nanoseconds.
func (c *conn) DomainGetTime(h driver.Domain, flags uint32) (int64, uint32, error) {
	if flags != 0 {
		return 0, 0, errFlagsFn(flags, "qemuDomainGetTime")
	}
	var sec int64
	var nsec uint32
	err := c.withAgent(h, "get time", true, func(v *vm, ag *agent.Agent) error {
		var ns json.Number
		if err := ag.Command(c.waitCtx(), "guest-get-time", nil, &ns); err != nil {
			return agentErr(err)
		}
		n, err := parseUint64(ns)
		if err != nil {
			return errQEMU(virerr.ErrInternalError, "malformed return value")
		}
		sec, nsec = int64(n/1e9), uint32(n%1e9)
		return nil
	})
	return sec, nsec, err
}

// hostnameFromAgent is qemuDomainGetHostnameAgent: the agent's failure
// to answer leaves no host name (the caller reports that), but a guest
// without an agent is that error.
func (c *conn) hostnameFromAgent(h driver.Domain) (string, error) {
	var name string
	err := c.withAgent(h, "hostname", true, func(v *vm, ag *agent.Agent) error {
		var r struct {
			HostName *string `json:"host-name"`
		}
		if err := ag.Command(c.waitCtx(), "guest-get-host-name", nil, &r); err == nil && r.HostName != nil {
			name = *r.HostName
		}
		return nil
	})
	return name, err
}

// agentInterfaces is the agent source of qemuDomainInterfaceAddresses.
func (c *conn) agentInterfaces(h driver.Domain) ([]driver.DomainIface, error) {
	var out []driver.DomainIface
	err := c.withAgent(h, "interface addresses", false, func(v *vm, ag *agent.Agent) error {
		var err error
		out, err = agentGetInterfaces(c, ag, true)
		return err
	})
	return out, err
}

// agentIface is one entry of guest-network-get-interfaces.
type agentIface struct {
	Name   *string `json:"name"`
	HWAddr *string `json:"hardware-address"`
	IPs    *[]struct {
		Type   *string          `json:"ip-address-type"`
		Addr   *string          `json:"ip-address"`
		Prefix *json.RawMessage `json:"prefix"`
	} `json:"ip-addresses"`
}

// agentGetInterfaces is qemuAgentGetInterfaces: interfaces with their
// addresses, aliases ("eth0:1") folded into their interface. With
// reportUnsupported false an agent without the command gives nil, nil.
func agentGetInterfaces(c *conn, ag *agent.Agent, reportUnsupported bool) ([]driver.DomainIface, error) {
	var raw json.RawMessage
	if err := ag.Command(c.waitCtx(), "guest-network-get-interfaces", nil, &raw); err != nil {
		if !reportUnsupported && unsupportedCmd(err) {
			return nil, nil
		}
		return nil, agentErr(err)
	}
	var list []agentIface
	if json.Unmarshal(raw, &list) != nil {
		return nil, errQEMU(virerr.ErrInternalError, "qemu agent didn't return an array of interfaces")
	}
	var out []driver.DomainIface
	index := map[string]int{}
	for _, e := range list {
		if e.Name == nil {
			return nil, errQEMU(virerr.ErrInternalError, "qemu agent didn't provide 'name' field")
		}
		ifname, _, _ := strings.Cut(*e.Name, ":")
		i, ok := index[ifname]
		if !ok {
			ifc := driver.DomainIface{Name: ifname}
			if e.HWAddr != nil {
				ifc.HWAddr = *e.HWAddr
			}
			out = append(out, ifc)
			i = len(out) - 1
			index[ifname] = i
		}
		if e.IPs == nil {
			continue
		}
		for _, ip := range *e.IPs {
			if ip.Type == nil {
				return nil, errQEMU(virerr.ErrInternalError, "qemu agent didn't provide 'ip-address-type' field for interface '%s'", *e.Name)
			}
			if *ip.Type != "ipv4" && *ip.Type != "ipv6" {
				return nil, errQEMU(virerr.ErrInternalError, "unknown ip address type '%s'", *ip.Type)
			}
			if ip.Addr == nil {
				return nil, errQEMU(virerr.ErrInternalError, "qemu agent didn't provide 'ip-address' field for interface '%s'", *e.Name)
			}
			var prefix uint32
			if ip.Prefix == nil || json.Unmarshal(*ip.Prefix, &prefix) != nil {
				return nil, errQEMU(virerr.ErrInternalError, "malformed 'prefix' field")
			}
			a := driver.IPAddr{Type: 0, Addr: *ip.Addr, Prefix: prefix}
			if *ip.Type == "ipv6" {
				a.Type = 1
			}
			out[i].Addrs = append(out[i].Addrs, a)
		}
	}
	return out, nil
}

// unsupportedCmd: the agent does not know or has disabled the command.
func unsupportedCmd(err error) bool {
	e, ok := err.(*agent.Error)
	return ok && e.Unsupported()
}

// parseUint64 reads a JSON number as libvirt's
// virJSONValueObjectGetNumberUlong would.
func parseUint64(n json.Number) (uint64, error) {
	var v uint64
	_, err := fmt.Sscan(string(n), &v)
	if err == nil && strings.ContainsAny(string(n), ".eE-") {
		err = fmt.Errorf("not an unsigned integer: %s", n)
	}
	return v, err
}

// DomainGetGuestVcpus is qemuDomainGetGuestVcpus: guest-get-vcpus as
// the vcpus, online and offlinable cpu lists.
func (c *conn) DomainGetGuestVcpus(h driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if flags != 0 {
		return nil, errFlagsFn(flags, "qemuDomainGetGuestVcpus")
	}
	var out []driver.TypedParam
	err := c.withAgent(h, "guest vcpus", false, func(v *vm, ag *agent.Agent) error {
		var list []struct {
			ID      *uint32 `json:"logical-id"`
			Online  *bool   `json:"online"`
			Offline *bool   `json:"can-offline"`
		}
		if err := ag.Command(c.waitCtx(), "guest-get-vcpus", nil, &list); err != nil {
			var me *agent.MalformedError
			if asMalformed(err, &me) {
				return errQEMU(virerr.ErrInternalError, "guest-get-vcpus reply was missing return data")
			}
			return agentErr(err)
		}
		// libvirt's bitmap holds ids below QEMU_GUEST_VCPU_MAX_ID.
		const maxID = 4096
		var all, online, offlinable []int
		for _, e := range list {
			switch {
			case e.ID == nil:
				return errQEMU(virerr.ErrInternalError, "'logical-id' missing in reply of guest-get-vcpus")
			case e.Online == nil:
				return errQEMU(virerr.ErrInternalError, "'online' missing in reply of guest-get-vcpus")
			case e.Offline == nil:
				return errQEMU(virerr.ErrInternalError, "'can-offline' missing in reply of guest-get-vcpus")
			case *e.ID >= maxID:
				return errQEMU(virerr.ErrInternalError, "vcpu id '%d' reported by guest agent is out of range", *e.ID)
			}
			all = append(all, int(*e.ID))
			if *e.Online {
				online = append(online, int(*e.ID))
			}
			if *e.Offline {
				offlinable = append(offlinable, int(*e.ID))
			}
		}
		out = []driver.TypedParam{
			{Field: "vcpus", Value: formatCPUList(all)},
			{Field: "online", Value: formatCPUList(online)},
			{Field: "offlinable", Value: formatCPUList(offlinable)},
		}
		return nil
	})
	return out, err
}

func asMalformed(err error, me **agent.MalformedError) bool {
	m, ok := err.(*agent.MalformedError)
	if ok {
		*me = m
	}
	return ok
}

// formatCPUList is virBitmapFormat: ranges "0-3,5", "" for none.
func formatCPUList(ids []int) string {
	set := map[int]bool{}
	max := -1
	for _, i := range ids {
		set[i] = true
		if i > max {
			max = i
		}
	}
	var b strings.Builder
	for i := 0; i <= max; i++ {
		if !set[i] {
			continue
		}
		j := i
		for j+1 <= max && set[j+1] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", i, j)
		} else {
			fmt.Fprintf(&b, "%d", i)
		}
		i = j
	}
	return b.String()
}

// DomainAgentSetResponseTimeout is qemuDomainAgentSetResponseTimeout:
// kept for the guest (and its agent, when connected).
func (c *conn) DomainAgentSetResponseTimeout(h driver.Domain, timeout int32, flags uint32) error {
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainAgentSetResponseTimeout")
	}
	if timeout < agentTimeoutBlock {
		return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "guest agent timeout '%d' is less than the minimum '%d'", timeout, agentTimeoutBlock)
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.ext.agent.setTimeout(timeout)
	c.d.saveStatusLogged(v)
	return nil
}

// QemuAgentCommand is qemuDomainQemuAgentCommand: the user's JSON to
// the agent, its whole reply back; it taints the guest.
func (c *conn) QemuAgentCommand(h driver.Domain, cmd string, timeout int32, flags uint32) (string, error) {
	if flags != 0 {
		return "", errFlagsFn(flags, "qemuDomainQemuAgentCommand")
	}
	var out string
	err := c.withAgent(h, "agent command", true, func(v *vm, ag *agent.Agent) error {
		c.d.taint(v, taintCustomGACommand)
		if timeout < agentTimeoutBlock {
			return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "guest agent timeout '%d' is less than the minimum '%d'", timeout, agentTimeoutBlock)
		}
		d := agentDuration(timeout)
		if timeout == agentTimeoutDefault {
			d = agent.DefaultTimeout
		}
		reply, err := ag.Raw(c.waitCtx(), []byte(cmd), d)
		if err != nil {
			if _, ok := err.(*json.SyntaxError); ok {
				return errQEMU(virerr.ErrInternalError, "cannot parse json %s: %v", cmd, err)
			}
			return agentErr(err)
		}
		out = string(reply)
		return nil
	})
	return out, err
}

const taintCustomGACommand = "custom-ga-command"

func init() {
	taintMessages[taintCustomGACommand] = "custom guest agent control commands issued"
}
