package command

import (
	"encoding/json"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/virerr"
)

func channelDef(t *testing.T, devices string) *conf.Domain {
	t.Helper()
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>c</name><memory>131072</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>`+devices+`</devices></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func parseChannel(t *testing.T, xml string) *conf.Chardev {
	t.Helper()
	dev, err := conf.ParseDevice([]byte(xml))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := dev.(*conf.Chardev)
	if !ok {
		t.Fatalf("%T", dev)
	}
	return c
}

const agentXML = `<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`

// The agent channel gets the next channel alias, the first free port
// (from 1) of the virtio-serial controller and its socket in the run's
// channel directory; the device_add is the command line's virtserialport.
func TestPrepareHotplugChannel(t *testing.T) {
	def := channelDef(t, `<controller type='virtio-serial' index='0'><alias name='virtio-serial0'/></controller>
<channel type='unix'><source mode='bind' path='/tmp/x'/><target type='virtio' name='org.example.one'/>
<alias name='channel0'/><address type='virtio-serial' controller='0' bus='0' port='1'/></channel>`)
	c := parseChannel(t, agentXML)
	if err := PrepareHotplugChannel(def, c, "/run/ch/domain-1-c"); err != nil {
		t.Fatal(err)
	}
	a := conf.DeviceAddress(c)
	if c.Alias != "channel1" || c.SourcePath != "/run/ch/domain-1-c/org.qemu.guest_agent.0" || c.SourceMode != "bind" ||
		a.Type != "virtio-serial" || a.Controller != 0 || a.Port != "2" {
		t.Fatalf("prepared %+v at %+v", c, a)
	}
	props, err := ChannelDeviceAdd(def, c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"driver": "virtserialport", "bus": "virtio-serial0.0", "nr": 2, "chardev": "charchannel1",
		"id": "channel1", "name": "org.qemu.guest_agent.0"}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("device_add %s = %v, want %v", k, props[k], v)
		}
	}
}

func TestPrepareHotplugChannelRefusals(t *testing.T) {
	for _, tc := range []struct {
		devices, xml string
		code         virerr.Code
		msg          string
	}{
		{"", agentXML, virerr.ErrInternalError, "no virtio-serial controllers are available"},
		{`<controller type='virtio-serial' index='0'/>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/><alias name='channel0'/></channel>`,
			agentXML, virerr.ErrOperationInvalid, "chardev already exists"},
		{`<controller type='virtio-serial' index='0'/>`,
			`<channel type='file'><source path='/tmp/x'/><target type='virtio' name='x'/></channel>`, virerr.ErrOperationUnsupported, "not supported"},
	} {
		err := PrepareHotplugChannel(channelDef(t, tc.devices), parseChannel(t, tc.xml), "/run/ch")
		if e := virerr.From(err); err == nil || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: %v, want %q", tc.xml, err, tc.msg)
		}
	}
}

// TestHotplugChardevBackend checks chardev-add's backend for the types
// QEMU opens itself, as qemuMonitorJSONAttachCharDevGetProps.
func TestHotplugChardevBackend(t *testing.T) {
	for _, tc := range []struct{ xml, want string }{
		{`<channel type='pty'><target type='virtio' name='x'/></channel>`, `{"data":{},"type":"pty"}`},
		{`<channel type='null'><target type='virtio' name='x'/></channel>`, `{"data":{},"type":"null"}`},
		{`<channel type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><protocol type='telnet'/><target type='virtio' name='x'/></channel>`,
			`{"data":{"addr":{"data":{"host":"127.0.0.1","port":"4555"},"type":"inet"},"server":true,"telnet":true,"wait":false},"type":"socket"}`},
		{`<channel type='unix'><source mode='connect' path='/tmp/s'><reconnect enabled='yes' timeout='5'/></source><target type='virtio' name='x'/></channel>`,
			`{"data":{"addr":{"data":{"path":"/tmp/s"},"type":"unix"},"reconnect":5,"server":false},"type":"socket"}`},
	} {
		b, err := HotplugChardevBackend(parseChannel(t, tc.xml))
		if err != nil {
			t.Errorf("%s: %v", tc.xml, err)
			continue
		}
		got, _ := json.Marshal(b)
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.xml, got, tc.want)
		}
	}
}
