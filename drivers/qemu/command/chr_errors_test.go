package command

import (
	"strings"
	"testing"

	"govirt/conf"
)

// TestChardevInputErrors: character, input and USB devices libvirt
// refuses are refused with libvirt's messages.
func TestChardevInputErrors(t *testing.T) {
	cases := []struct{ devices, want string }{
		{`<serial type='file'><target port='0'/></serial>`,
			"internal error: Missing source path attribute for char device"},
		{`<serial type='tcp'><source mode='connect' service='5'/></serial>`,
			"internal error: Missing source host attribute for char device"},
		{`<serial type='udp'><source mode='bind' host='127.0.0.1' service='5'/></serial>`,
			"internal error: Missing source service attribute for char device"},
		{`<serial type='unix'><source mode='bind' path='/tmp/x.sock'><reconnect enabled='yes' timeout='5'/></source></serial>`,
			"internal error: chardev reconnect is possible only for connect mode"},
		{`<serial type='tcp'><source mode='connect' host='h' service='5'/><protocol type='bogus'/></serial>`,
			"unsupported configuration: Unknown protocol 'bogus'"},
		{`<serial type='pty'><target type='isa-serial'><model name='pci-serial'/></target></serial>`,
			"unsupported configuration: Target model 'pci-serial' requires target type 'pci-serial'"},
		{`<serial type='pty'><target type='pci-serial'/><address type='isa' iobase='0x3f8'/></serial>`,
			"unsupported configuration: Target type 'pci-serial' requires address type 'pci'"},
		{`<serial type='spiceport'><source channel='org.x'/></serial>`,
			"unsupported configuration: chardev 'spiceport' not supported without spice graphics"},
		{`<serial type='pty'/><console type='pty'><target type='virtio'/></console><console type='pty'><target type='serial'/></console>`,
			"unsupported configuration: Only the first console can be a serial port"},
		{`<channel type='spicevmc'><target type='virtio' name='org.x'/></channel><graphics type='spice' port='5900'/>`,
			"unsupported configuration: Unsupported spicevmc target name 'org.x'"},
		{`<input type='tablet' bus='ps2'/>`,
			"internal error: ps2 bus does not support tablet input device"},
		{`<input type='tablet' bus='usb'><address type='pci' bus='0' slot='5'/></input>`,
			"XML error: Invalid address for a USB device"},
		{`<input type='passthrough' bus='usb'><source evdev='/dev/input/event1'/></input>`,
			"unsupported configuration: only bus 'virtio' is supported for 'passthrough' input devices"},
		{`<input type='evdev'/>`,
			"XML error: Missing evdev path for input device"},
		{`<input type='mouse' bus='usb' model='virtio'/>`,
			"unsupported configuration: only bus 'virtio' is supported for input model 'virtio'"},
		{`<controller type='usb' model='none'/><input type='tablet' bus='usb'/>`,
			"unsupported configuration: Can't add USB input device. USB bus is disabled"},
		{`<input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input><input type='mouse' bus='usb'><address type='usb' bus='0' port='1'/></input>`,
			"XML error: Duplicate USB address bus 0 port 1"},
		{`<controller type='usb' model='qemu-xhci' ports='16'/>`,
			"unsupported configuration: 'qemu-xhci' controller only supports up to '15' ports"},
		{`<smartcard mode='passthrough' type='unix'><source mode='bind' path='/tmp/a'/></smartcard><smartcard mode='host'/>`,
			"unsupported configuration: this QEMU binary lacks multiple smartcard support"},
	}
	for _, c := range cases {
		xml := `<domain type='kvm'><name>e</name><uuid>4e3f3b2a-8f4e-4f4e-9c1e-2d7c8f1e0a01</uuid><memory>262144</memory><vcpu>1</vcpu>` +
			`<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>` + c.devices + `</devices></domain>`
		def, err := conf.ParseDomain([]byte(xml), conf.ParseValidate)
		if err != nil {
			if got := errMessage(err); strings.TrimSpace(got) != c.want {
				t.Errorf("%s\nparse: %s\nwant:  %s", c.devices, got, c.want)
			}
			continue
		}
		_, err = Build(def, qemu72(), goldenPaths("e"))
		if err == nil {
			t.Errorf("%s: accepted, want %s", c.devices, c.want)
			continue
		}
		if got := errMessage(err); got != c.want {
			t.Errorf("%s\ngot:  %s\nwant: %s", c.devices, got, c.want)
		}
	}
}
