package qemu

import (
	"govirt/driver"
	"govirt/virerr"
)

// virDomainGetHostnameFlags.
const (
	hostnameLease = 1
	hostnameAgent = 2
)

// DomainGetHostname is qemuDomainGetHostname. The lease source asks the
// DHCP leases of each network the guest's type='network' NICs are on for
// one carrying a host name; the agent source (the default) asks the
// guest agent (agent_calls.go).
func (c *conn) DomainGetHostname(h driver.Domain, flags uint32) (string, error) {
	if flags&^(hostnameLease|hostnameAgent) != 0 {
		return "", errFlagsFn(flags&^(hostnameLease|hostnameAgent), "qemuDomainGetHostname")
	}
	if flags&hostnameLease != 0 && flags&hostnameAgent != 0 {
		return "", virerr.Raw(virerr.FromQemu, virerr.ErrInvalidArg,
			"Flags 'VIR_DOMAIN_GET_HOSTNAME_LEASE' and 'VIR_DOMAIN_GET_HOSTNAME_AGENT' are mutually exclusive")
	}
	if flags&hostnameLease == 0 {
		name, err := c.hostnameFromAgent(h)
		if err != nil {
			return "", err
		}
		if name == "" {
			return "", errQEMU(virerr.ErrNoHostname, "no hostname found for domain %s", h.Name)
		}
		return name, nil
	}
	var name, hostname string
	err := c.withJob(h, "hostname", func(v *vm, _ monitor) error {
		v.mu.Lock()
		live := v.live
		name = v.name
		v.mu.Unlock()
		if live == nil {
			return errNotRunning()
		}
		for _, nic := range live.Devices.Interfaces {
			if nic.Type != "network" {
				continue
			}
			net, err := c.LookupNetworkByName(nic.Network)
			if err != nil {
				return err
			}
			leases, err := c.NetworkGetDHCPLeases(net, nic.MAC, 0)
			if err != nil {
				return err
			}
			for _, l := range leases {
				if l.Hostname != "" {
					hostname = l.Hostname
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if hostname == "" {
		return "", errQEMU(virerr.ErrNoHostname, "no hostname found for domain %s", name)
	}
	return hostname, nil
}
