package integration

import "testing"

// TestPinningTestDriver compares vCPU and emulator pinning and the CPU set
// checks of a definition (`invalid argument: Failed to parse bitmap
// 'aaa'`) between govirtd's test driver and libvirt 9.0's through
// python-libvirt, including the <cputune> each leaves in the XML.
func TestPinningTestDriver(t *testing.T) {
	comparePythonTestDriver(t, "testdata/python/pinning.py")
}
