package driver

// FSInfo is virDomainFSInfo: a mounted guest file system and the disks
// (target names) it lives on.
type FSInfo struct {
	Mountpoint, Name, Fstype string
	DevAliases               []string
}

// DomainGuestFS are the guest file system calls (virDomainFSFreeze,
// virDomainFSThaw, virDomainFSTrim, virDomainGetFSInfo); a real driver
// answers them through the guest agent.
type DomainGuestFS interface {
	// DomainFSFreeze and DomainFSThaw return how many file systems
	// changed state; no mount points means all.
	DomainFSFreeze(d Domain, mountpoints []string, flags uint32) (int32, error)
	DomainFSThaw(d Domain, mountpoints []string, flags uint32) (int32, error)
	// DomainFSTrim: mountPoint nil means every file system.
	DomainFSTrim(d Domain, mountPoint *string, minimum uint64, flags uint32) error
	DomainFSInfoGetter
}

// DomainFSInfoGetter lists the guest's mounted file systems
// (virDomainGetFSInfo); a driver may answer it without the other
// DomainGuestFS calls.
type DomainFSInfoGetter interface {
	DomainGetFSInfo(d Domain, flags uint32) ([]FSInfo, error)
}

// DomainProcessSignaler sends a signal to a guest process
// (virDomainSendProcessSignal); signum is libvirt's portable number.
type DomainProcessSignaler interface {
	DomainSendProcessSignal(d Domain, pid int64, signum uint32, flags uint32) error
}

// IPAddr is virDomainIPAddress; Type is libvirt's virIPAddrType (0 IPv4,
// 1 IPv6).
type IPAddr struct {
	Type   int32
	Addr   string
	Prefix uint32
}

// DomainIface is virDomainInterface: a guest NIC's name, MAC and
// addresses.
type DomainIface struct {
	Name, HWAddr string
	Addrs        []IPAddr
}

// DomainInterfaceAddresser reports guest IP addresses
// (virDomainInterfaceAddresses); source is
// VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE (0), AGENT (1) or ARP (2).
type DomainInterfaceAddresser interface {
	DomainInterfaceAddresses(d Domain, source uint32, flags uint32) ([]DomainIface, error)
}
