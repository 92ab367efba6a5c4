// Package test is govirt's counterpart of libvirt's "test" driver: a
// hypervisor that only exists in memory, with the default objects, state
// rules, values and error messages of libvirt 9.0's test:///default, so
// that clients see what they would see against libvirtd.
package test

import (
	"net/url"
	"sync"

	"govirt/driver"
	"govirt/virerr"
)

// Driver hands out connections. Connections to the same URI share one
// instance, as libvirt's test:///default does, so that an event caused on
// one connection is seen on another; the instance is dropped (and the next
// open starts from the defaults again) when its last connection closes.
type Driver struct {
	mu        sync.Mutex
	instances map[string]*instance // by URI path
}

// New returns the test driver.
func New() driver.Driver { return &Driver{instances: map[string]*instance{}} }

// Name is the URI scheme the driver claims.
func (*Driver) Name() string { return "test" }

// Open claims test:///default and test:///ABSOLUTE/PATH (a node file).
// Read-only access is enforced by the dispatcher, as libvirt's public API
// does it before any driver is called.
func (d *Driver) Open(u *url.URL, readOnly bool) (driver.Conn, error) {
	if u == nil || u.Scheme != "test" {
		return nil, nil
	}
	// A host part means a remote test URI, which the daemon never serves.
	if u.Host != "" {
		return nil, nil
	}
	path := u.Path
	if path == "" || path == "/" {
		return nil, virerr.New(virerr.FromTest, virerr.ErrInvalidArg, "testOpen: supply a path or use test:///default")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	inst := d.instances[path]
	if inst == nil {
		var err error
		if path == "/default" {
			inst, err = newDefaultInstance()
		} else {
			inst, err = newFileInstance(path)
		}
		if err != nil {
			return nil, err
		}
		d.instances[path] = inst
	}
	inst.refs++
	return &conn{instance: inst, drv: d, path: path, uri: "test://" + path}, nil
}

// release drops one reference; the last one forgets the instance.
func (d *Driver) release(path string, inst *instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	inst.refs--
	if inst.refs == 0 && d.instances[path] == inst {
		delete(d.instances, path)
	}
}
