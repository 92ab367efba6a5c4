package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

// The guest agent calls without another home: guest info, guest vCPUs,
// the agent's response timeout; and the QEMU program's agent
// passthrough (qemuAgentCommand in qemu_program.go's table).
func init() {
	register(true, map[int32]procFunc{
		procs.DomainGetGuestInfo:            domainGetGuestInfo,
		procs.DomainGetGuestVcpus:           domainGetGuestVcpus,
		procs.DomainSetGuestVcpus:           domainSetGuestVcpus,
		procs.DomainAgentSetResponseTimeout: domainAgentSetResponseTimeout,
	})
	qemuTable[procs.QemuDomainAgentCommand] = qemuAgentCommand
}

// stringsOkay: libvirtd sends these calls' string parameters to every
// client (VIR_TYPED_PARAM_STRING_OKAY is implied).
const stringsOkay = 1 << 2

func domainGetGuestInfo(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetGuestInfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGuestAgent](h)
	if err != nil {
		return nil, err
	}
	p, err := d.DomainGetGuestInfo(drvDom(a.Dom), a.Types, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainGetGuestInfoRet{Params: paramsToWire(p, stringsOkay)}, nil
}

func domainGetGuestVcpus(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetGuestVcpusArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGuestAgent](h)
	if err != nil {
		return nil, err
	}
	p, err := d.DomainGetGuestVcpus(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainGetGuestVcpusRet{Params: paramsToWire(p, stringsOkay)}, nil
}

func domainAgentSetResponseTimeout(h *handler, body []byte) (any, error) {
	a, err := args[DomainAgentSetResponseTimeoutArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGuestAgent](h)
	if err != nil {
		return nil, err
	}
	if err := d.DomainAgentSetResponseTimeout(drvDom(a.Dom), a.Timeout, a.Flags); err != nil {
		return nil, err
	}
	return DomainAgentSetResponseTimeoutRet{Result: 0}, nil
}

func qemuAgentCommand(h *handler, body []byte) (any, error) {
	a, err := args[QemuDomainAgentCommandArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.QemuAgentCommander](h)
	if err != nil {
		return nil, err
	}
	out, err := d.QemuAgentCommand(drvDom(a.Dom), a.Cmd, a.Timeout, a.Flags)
	if err != nil {
		return nil, err
	}
	return QemuDomainAgentCommandRet{Result: &out}, nil
}

func domainSetGuestVcpus(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetGuestVcpusArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGuestVcpuSetter](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetGuestVcpus(drvDom(a.Dom), a.Cpumap, a.State, a.Flags)
}
