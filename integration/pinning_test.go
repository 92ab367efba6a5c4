package integration

import "testing"

// TestPinningTestDriver compares vCPU and emulator pinning and the CPU set
// checks of a definition (`invalid argument: Failed to parse bitmap
// 'aaa'`) between govirtd's test driver and libvirt 9.0's through
// python-libvirt, including the <cputune> each leaves in the XML.
func TestPinningTestDriver(t *testing.T) {
	comparePythonTestDriver(t, "testdata/python/pinning.py")
}

// TestGuestCallsTestDriver compares the guest calls libvirt's test driver
// fakes (process signals, fsfreeze/fsthaw/fstrim, memory peeks, launch
// security info) between govirtd and libvirt 9.0 through python-libvirt.
func TestGuestCallsTestDriver(t *testing.T) {
	comparePythonTestDriver(t, "testdata/python/guestcalls.py")
}

// TestMiscCallsTestDriver compares virDomainGetBlockInfo,
// virDomainSetMemoryStatsPeriod and virDomainRename (with its refusals and
// renamed events) between govirtd's test driver and libvirt 9.0's.
func TestMiscCallsTestDriver(t *testing.T) {
	comparePythonTestDriver(t, "testdata/python/misc_calls.py")
}
