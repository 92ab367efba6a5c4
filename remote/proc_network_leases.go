package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.NetworkGetDhcpLeases: networkGetDHCPLeases,
		procs.NetworkUpdate:        networkUpdate,
	})
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// networkGetDHCPLeases is remoteDispatchNetworkGetDHCPLeases: the leases
// are sent only when asked for, their number always.
func networkGetDHCPLeases(h *handler, body []byte) (any, error) {
	a, err := args[NetworkGetDhcpLeasesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkLeases](h)
	if err != nil {
		return nil, err
	}
	mac := ""
	if a.MAC != nil {
		mac = *a.MAC
	}
	ls, err := d.NetworkGetDHCPLeases(drvNet(a.Net), mac, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := NetworkGetDhcpLeasesRet{Ret: uint32(len(ls)), Leases: []NetworkDhcpLease{}}
	if a.NeedResults != 0 {
		for _, l := range ls {
			ret.Leases = append(ret.Leases, NetworkDhcpLease{Iface: l.Iface, Expirytime: l.ExpiryTime,
				Type: l.Type, MAC: optStr(l.MAC), Iaid: optStr(l.IAID), Ipaddr: l.IPAddr, Prefix: l.Prefix,
				Hostname: optStr(l.Hostname), Clientid: optStr(l.ClientID)})
		}
	}
	return ret, nil
}

func networkUpdate(h *handler, body []byte) (any, error) {
	a, err := args[NetworkUpdateArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkUpdater](h)
	if err != nil {
		return nil, err
	}
	// A client library that finds no VIR_DRV_FEATURE_NETWORK_UPDATE_HAS_
	// CORRECT_ORDER (govirt does not announce it) sends the arguments
	// swapped, as libvirt did from 0.10.2 on: "command" carries the
	// section and "section" the command.
	return nil, d.NetworkUpdate(drvNet(a.Net), a.Section, a.Command, a.ParentIndex, a.XML, a.Flags)
}
