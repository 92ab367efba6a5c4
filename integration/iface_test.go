package integration

import "testing"

// TestInterfacesTestDriver compares govirtd's test driver host interface
// calls with libvirt 9.0's test driver through python-libvirt: define and
// redefine, undefine, create and destroy with their state errors, the
// change transaction (begin, commit, rollback to the saved definitions,
// all inactive), MAC lookups and the XML in libvirt's element order.
func TestInterfacesTestDriver(t *testing.T) {
	comparePythonTestDriver(t, "testdata/python/ifaces.py")
}
