package driver

// DomainGuestAgent are the read calls a driver answers through the
// guest agent that have no other home (virDomainGetGuestInfo,
// virDomainGetGuestVcpus) and the agent's response timeout
// (virDomainAgentSetResponseTimeout).
type DomainGuestAgent interface {
	// DomainGetGuestInfo: types is a VIR_DOMAIN_GUEST_INFO_* mask (0:
	// everything the agent supports); the parameters carry libvirt's
	// names (user.count, os.id, fs.0.name, ...).
	DomainGetGuestInfo(d Domain, types uint32, flags uint32) ([]TypedParam, error)
	// DomainGetGuestVcpus: vcpus, online and offlinable as cpu lists.
	DomainGetGuestVcpus(d Domain, flags uint32) ([]TypedParam, error)
	// DomainAgentSetResponseTimeout: timeout in seconds, or
	// VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK (-2), DEFAULT (-1),
	// NOWAIT (0).
	DomainAgentSetResponseTimeout(d Domain, timeout int32, flags uint32) error
}

// QemuAgentCommander passes a JSON command through to the guest agent
// (virDomainQemuAgentCommand, libvirt-qemu) and returns the agent's
// whole reply.
type QemuAgentCommander interface {
	QemuAgentCommand(d Domain, cmd string, timeout int32, flags uint32) (string, error)
}

// AgentLifecycle is the payload of EventIDAgentLifecycle: State is
// VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_* (1 connected,
// 2 disconnected), Reason ..._REASON_* (0 unknown, 1 domain started,
// 2 channel).
type AgentLifecycle struct {
	State  int32
	Reason int32
}

// DomainGuestVcpuSetter onlines or offlines guest vCPUs through the
// agent (virDomainSetGuestVcpus): cpumap in libvirt's bitmap syntax,
// state 1 online, 0 offline.
type DomainGuestVcpuSetter interface {
	DomainSetGuestVcpus(d Domain, cpumap string, state int32, flags uint32) error
}
