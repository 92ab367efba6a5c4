package driver

// NetworkDHCPLease is virNetworkDHCPLease.
type NetworkDHCPLease struct {
	Iface      string
	ExpiryTime int64
	Type       int32 // 0 IPv4, 1 IPv6 (VIR_IP_ADDR_TYPE_*)
	MAC        string
	IAID       string
	IPAddr     string
	Prefix     uint32
	Hostname   string
	ClientID   string
}

// NetworkLeases answers net-dhcp-leases.
type NetworkLeases interface {
	NetworkGetDHCPLeases(n Network, mac string, flags uint32) ([]NetworkDHCPLease, error)
}

// NetworkUpdater answers net-update (virNetworkUpdate).
type NetworkUpdater interface {
	NetworkUpdate(n Network, command, section uint32, parentIndex int32, xml string, flags uint32) error
}
