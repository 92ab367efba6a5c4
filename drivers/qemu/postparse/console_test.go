package postparse

import (
	"strings"
	"testing"

	"govirt/conf"
)

// TestSerialConsoleStub: a serial port an HVM guest can use as its console
// gets the <console> libvirt writes for it (virDomainDefAddConsoleCompat),
// first among the consoles; PCI, USB and debug serials do not.
func TestSerialConsoleStub(t *testing.T) {
	host := replayHost(t, conformanceDir(t))
	for _, c := range []struct{ devices, want, not string }{
		{`<serial type='pty'><target port='0'/></serial>`,
			"<console type='pty'>\n      <target type='serial' port='0'/>\n    </console>", ""},
		{`<serial type='file'><source path='/tmp/x.log'/><target port='0'/></serial><console type='pty'><target type='virtio'/></console>`,
			"<console type='file'>\n      <source path='/tmp/x.log'/>\n      <target type='serial' port='0'/>\n    </console>\n    <console type='pty'>", ""},
		{`<serial type='pty'><target type='pci-serial' port='0'/></serial>`, "", "<console"},
	} {
		def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>u</name><memory>65536</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>`+c.devices+`</devices></domain>`), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(def, host); err != nil {
			t.Fatal(err)
		}
		out, _ := def.Format(conf.FormatInactive)
		if c.want != "" && !strings.Contains(string(out), c.want) || c.not != "" && strings.Contains(string(out), c.not) {
			t.Errorf("%s:\n%s", c.devices, out)
		}
	}
}
