package test

import "govirt/driver"

// More capability interfaces the test driver provides (checkpoints, node
// devices, interface changes, pinning, guest calls).
var (
	_ driver.NodeDevices                   = (*conn)(nil)
	_ driver.InterfaceEditor               = (*conn)(nil)
	_ driver.DomainPinning                 = (*conn)(nil)
	_ driver.DomainRenamer                 = (*conn)(nil)
	_ driver.DomainMemoryPeeker            = (*conn)(nil)
	_ driver.DomainMemoryStatsPeriodSetter = (*conn)(nil)
	_ driver.DomainGuestFS                 = (*conn)(nil)
	_ driver.DomainProcessSignaler         = (*conn)(nil)
	_ driver.DomainBlockInfoer             = (*conn)(nil)
)
