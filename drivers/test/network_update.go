package test

import (
	"govirt/driver"
	"govirt/drivers/network"
	"govirt/virerr"
)

var _ driver.NetworkUpdater = (*conn)(nil)

// sectionIPDHCPHost is VIR_NETWORK_SECTION_IP_DHCP_HOST.
const sectionIPDHCPHost = 4

var netSectionNames = map[uint32]string{1: "bridge", 2: "domain", 3: "ip", 4: "ip-dhcp-host",
	5: "ip-dhcp-range", 6: "forward", 7: "forward-interface", 8: "forward-pf", 9: "portgroup",
	10: "dns-host", 11: "dns-txt", 12: "dns-srv"}

// NetworkUpdate is testNetworkUpdate (virNetworkObjUpdate) for static
// DHCP hosts, the section net-update is used for; the test driver keeps
// one definition, so --live and --config change the same one. Other
// sections are refused as govirt's network driver refuses them.
func (in *instance) NetworkUpdate(h driver.Network, command, section uint32, parentIndex int32, doc string, flags uint32) error {
	const live, config = 1, 2
	if err := checkFlags(flags, live|config, "testNetworkUpdate"); err != nil {
		return err
	}
	return in.updateNet(h, func(n *netObj) error {
		// virNetworkObjConfigChangeSetup
		if flags&(live|config) == 0 {
			flags = config
			if n.active {
				flags = live
			}
		}
		if flags&config != 0 && !n.persistent {
			return virerr.New(virerr.FromNetwork, virerr.ErrOperationInvalid, "cannot change persistent config of a transient network")
		}
		if flags&live != 0 && !n.active {
			return virerr.New(virerr.FromNetwork, virerr.ErrOperationInvalid, "network is not running")
		}
		if section != sectionIPDHCPHost {
			name, ok := netSectionNames[section]
			if !ok {
				return virerr.New(virerr.FromNetwork, virerr.ErrOperationUnsupported, "can't update unrecognized section of network")
			}
			return virerr.New(virerr.FromNetwork, virerr.ErrOperationUnsupported, "can't update '%s' section of network '%s'", name, n.name)
		}
		def := n.def.Clone()
		if err := network.UpdateDHCPHost(def, command, parentIndex, doc); err != nil {
			return err
		}
		n.def = def
		return nil
	})
}
