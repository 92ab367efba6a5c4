package integration

import (
	"strings"
	"testing"
)

// TestCallWithFDsKeepsConnection sends a call carrying descriptors
// (virsh dom-fd-associate), which govirtd refuses: the client gets the
// error and its connection stays usable for the next command of the same
// virsh session.
func TestCallWithFDsKeepsConnection(t *testing.T) {
	d := startDaemon(t)
	out, errOut, _ := virsh(t, d.URI("test"), "dom-fd-associate test --name x --pass-fds 0; dom-fd-associate test --name y --pass-fds 0,1,2; domstate test")
	if !strings.Contains(errOut, "file descriptor passing is not supported") {
		t.Errorf("dom-fd-associate: %s", errOut)
	}
	if strings.Contains(errOut, "Disconnected") || strings.Contains(errOut, "end of file") {
		t.Errorf("the connection was dropped:\n%s", errOut)
	}
	if !strings.Contains(out, "running") {
		t.Errorf("domstate after the refused calls: %q (stderr %s)", out, errOut)
	}
}
