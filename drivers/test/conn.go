package test

import (
	"sync"

	"govirt/driver"
	"govirt/events"
)

// conn is one client's connection; every API is the shared instance's,
// promoted through the embedding.
type conn struct {
	*instance
	drv       *Driver
	path, uri string
	closeOnce sync.Once
}

// The optional capability interfaces the test driver provides.
var (
	_ driver.Conn              = (*conn)(nil)
	_ driver.Domains           = (*conn)(nil)
	_ driver.DomainControl     = (*conn)(nil)
	_ driver.DomainSaver       = (*conn)(nil)
	_ driver.DomainTuner       = (*conn)(nil)
	_ driver.DomainParams      = (*conn)(nil)
	_ driver.DomainStatser     = (*conn)(nil)
	_ driver.DomainSecurity    = (*conn)(nil)
	_ driver.DomainDevices     = (*conn)(nil)
	_ driver.DomainSnapshots   = (*conn)(nil)
	_ driver.DomainCheckpoints = (*conn)(nil)
	_ driver.Host              = (*conn)(nil)
	_ driver.Networks          = (*conn)(nil)
	_ driver.StoragePools      = (*conn)(nil)
	_ driver.StorageVols       = (*conn)(nil)
	_ driver.Interfaces        = (*conn)(nil)
)

func (c *conn) Close() error {
	c.closeOnce.Do(func() { c.drv.release(c.path, c.instance) })
	return nil
}

func (c *conn) URI() string { return c.uri }

// Type is what virConnectGetType reports for the test driver.
func (c *conn) Type() string { return "TEST" }

// Version is the test hypervisor's "0.0.2".
func (c *conn) Version() (uint64, error) { return 2, nil }

func (c *conn) Events() *events.Bus { return c.bus }
