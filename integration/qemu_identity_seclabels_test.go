package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestQEMUIdentitySecurityLabels runs virConnectSetIdentity, the
// security label calls and createXMLWithFiles/createWithFiles through
// python-libvirt on govirtd's QEMU driver: the identity parameters are
// checked as virIdentitySetParameters does and accepted (libvirtd without
// an access driver takes them from any client), the capabilities list
// libvirtd's security stack ("none", then DAC with its base labels), a
// running guest has the labels of both, a shut-off one none, and the *WithFiles calls are unsupported as in libvirt's QEMU
// driver. The transcript is libvirtd 9.0's on this host; with
// GOVIRT_LIBVIRTD_COMPARE=1 it is also compared live.
func TestQEMUIdentitySecurityLabels(t *testing.T) {
	requireQEMURoot(t)
	needQEMU(t)
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	const script = "testdata/python/qemu_identity_seclabels.py"
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	got := strings.Join(pythonTranscript(t, script, d.URI("qemu"), "idguest"), "\n")
	want := strings.Join([]string{
		"identity ok 0",
		"identity empty ok 0",
		"identity flags ok 0",
		"identity unknown err 74 0 argument unsupported: parameter 'bogus' not supported",
		"identity readonly ok 0",
		"model ok ['none', '0']",
		"secmodels <secmodel> <model>none</model> <doi>0</doi> </secmodel> <secmodel> <model>dac</model> <doi>0</doi> <baselabel type='kvm'>+0:+0</baselabel> <baselabel type='qemu'>+0:+0</baselabel> </secmodel>",
		"label off ok ['', False]",
		"labels off ok []",
		"createWithFiles err 3 20 this function is not supported by the connection driver: virDomainCreateWithFiles",
		"createXMLWithFiles err 3 20 this function is not supported by the connection driver: virDomainCreateXMLWithFiles",
		"label on ok ['', False]",
		"labels on ok [['', False], ['+0:+0', False]]",
		"labels after ok []",
	}, "\n")
	if got != want {
		t.Errorf("govirtd:\n%s\nwant (libvirtd 9.0):\n%s", got, want)
	}
	if libvirtdCompare(t) {
		lv := strings.Join(pythonTranscript(t, script, libvirtdURI, "govirt-idguest"), "\n")
		if lv != want {
			t.Errorf("libvirtd now answers:\n%s", lv)
		}
	}
}
