package remote

import (
	"fmt"

	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{procs.DomainInterfaceAddresses: domainInterfaceAddresses})
}

// domainInterfaceAddresses: the reply's bounds (REMOTE_DOMAIN_INTERFACE_MAX
// interfaces, REMOTE_DOMAIN_IP_ADDR_MAX addresses each) are libvirt's
// daemon's, which refuses a larger answer rather than truncating it (with
// its message, which says interfaces for addresses too).
func domainInterfaceAddresses(h *handler, body []byte) (any, error) {
	a, err := args[DomainInterfaceAddressesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainInterfaceAddresses](h)
	if err != nil {
		return nil, err
	}
	ifaces, err := d.DomainInterfaceAddresses(drvDom(a.Dom), a.Source, a.Flags)
	if err != nil {
		return nil, err
	}
	if len(ifaces) > RemoteDomainInterfaceMax {
		return nil, errTooLarge(fmt.Sprintf("Number of interfaces, %d exceeds the max limit: %d", len(ifaces), RemoteDomainInterfaceMax))
	}
	ret := DomainInterfaceAddressesRet{Ifaces: []DomainInterface{}}
	for _, i := range ifaces {
		if len(i.Addrs) > RemoteDomainIPAddrMax {
			return nil, errTooLarge(fmt.Sprintf("Number of interfaces, %d exceeds the max limit: %d", len(i.Addrs), RemoteDomainIPAddrMax))
		}
		w := DomainInterface{Name: i.Name, Addrs: []DomainIPAddr{}}
		if i.HWAddr != "" {
			hw := i.HWAddr
			w.Hwaddr = &hw
		}
		for _, ad := range i.Addrs {
			w.Addrs = append(w.Addrs, DomainIPAddr{Type: ad.Type, Addr: ad.Addr, Prefix: ad.Prefix})
		}
		ret.Ifaces = append(ret.Ifaces, w)
	}
	return ret, nil
}
