package command

import (
	"strings"
	"testing"

	"govirt/conf"
)

// displayDomain is a minimal guest with the given devices.
func displayDomain(t *testing.T, devices string) *conf.Domain {
	t.Helper()
	xml := `<domain type='qemu'><name>d</name><uuid>3e3fce45-4f53-4fa7-bb32-11f34168b82b</uuid>
<memory unit='KiB'>131072</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices>` + devices + `</devices></domain>`
	def, err := conf.ParseDomain([]byte(xml), conf.ParseValidate)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func argvOf(t *testing.T, def *conf.Domain, p Paths) string {
	t.Helper()
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(cl.Argv, " ")
}

// SPICE autoport takes its plain and TLS ports from the allocator and
// records them; a websocket='-1' takes one from its own range.
func TestDisplayPortAllocation(t *testing.T) {
	def := displayDomain(t, `<graphics type='spice' autoport='yes'/><graphics type='vnc' port='5905' websocket='-1'/>`)
	p := goldenPaths("x")
	p.Graphics.SpiceTLS = true
	next := 5910
	p.SpicePort = func() (int, error) { next++; return next, nil }
	p.WebsocketPort = func() (int, error) { return 5701, nil }
	argv := argvOf(t, def, p)
	for _, want := range []string{"-spice port=5911,tls-port=5912,addr=127.0.0.1,disable-ticketing=on,x509-dir=/etc/pki/libvirt-spice,seamless-migration=on",
		"-vnc 127.0.0.1:5,websocket=5701,audiodev=audio1"} {
		if !strings.Contains(argv, want) {
			t.Errorf("argv lacks %q:\n%s", want, argv)
		}
	}
	g := def.Devices.Graphics[0]
	if g.Port != 5911 || g.TLSPort != 5912 || !g.AutoPort {
		t.Errorf("live spice port %d tls %d auto %v", g.Port, g.TLSPort, g.AutoPort)
	}
	// Without an allocator SPICE autoport is refused rather than left to
	// a port QEMU cannot report back.
	def = displayDomain(t, `<graphics type='spice' autoport='yes'/>`)
	if _, err := Build(def, qemu72(), goldenPaths("x")); err == nil || !strings.Contains(err.Error(), "port allocator") {
		t.Errorf("spice autoport without allocator: %v", err)
	}
}

// The default audio backend follows the displays and qemu.conf, as
// qemuDomainDefSuggestDefaultAudioBackend.
func TestDefaultAudio(t *testing.T) {
	for _, c := range []struct {
		name, devices string
		cfg           GraphicsConfig
		want          string // -audiodev driver, "" for none added
	}{
		{"no display", ``, GraphicsConfig{}, "none"},
		{"no display, host audio", ``, GraphicsConfig{NogfxAllowHostAudio: true, AudioDriverEnv: "alsa"}, "alsa"},
		{"no display, host audio unset", ``, GraphicsConfig{NogfxAllowHostAudio: true}, ""},
		{"vnc", `<graphics type='vnc' port='5901'/>`, GraphicsConfig{AudioDriverEnv: "alsa"}, "none"},
		{"vnc, host audio", `<graphics type='vnc' port='5901'/>`, GraphicsConfig{VNCAllowHostAudio: true, AudioDriverEnv: "pa"}, "pa"},
		{"spice", `<graphics type='spice'/>`, GraphicsConfig{}, "spice"},
		{"sdl without QEMU_AUDIO_DRV", `<graphics type='sdl'/>`, GraphicsConfig{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := displayDomain(t, c.devices)
			p := goldenPaths("x")
			p.Graphics = c.cfg
			c2 := qemu72()
			c2.flags["sdl"] = true
			cl, err := Build(def, c2, p)
			if err != nil {
				t.Fatal(err)
			}
			argv := strings.Join(cl.Argv, " ")
			if c.want == "" {
				if strings.Contains(argv, "-audiodev") || len(def.Devices.Audios) != 0 {
					t.Errorf("an audio backend was added: %s", argv)
				}
				return
			}
			if want := `-audiodev {"id":"audio1","driver":"` + c.want + `"}`; !strings.Contains(argv, want) {
				t.Errorf("argv lacks %s:\n%s", want, argv)
			}
			if len(def.Devices.Audios) != 1 || def.Devices.Audios[0].ID != 1 {
				t.Errorf("live definition audios: %v", def.Devices.Audios)
			}
		})
	}
}

// libvirt's refusals around audio references.
func TestAudioRefusals(t *testing.T) {
	for _, c := range []struct{ devices, want string }{
		{`<audio id='1' type='spice'/>`, "Spice audio is not supported without spice graphics"},
		{`<sound model='ac97'><audio id='3'/></sound><audio id='1' type='none'/>`, "no audio device with ID 3"},
		{`<audio id='1' type='none'/><audio id='1' type='alsa'/>`, "audio ID 1 is used multiple times"},
		{`<sound model='ich7'/>`, "sound card model 'ich7' is not supported by qemu"},
	} {
		_, err := Build(displayDomain(t, c.devices), qemu72(), goldenPaths("x"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.devices, err, c.want)
		}
	}
}

// A network listen takes the network's address, recorded with it.
func TestNetworkListen(t *testing.T) {
	def := displayDomain(t, `<graphics type='vnc' port='5907'><listen type='network' network='default'/></graphics>`)
	p := goldenPaths("x")
	p.NetworkAddress = func(n string) (string, error) {
		if n != "default" {
			t.Errorf("asked for network %q", n)
		}
		return "192.168.122.1", nil
	}
	if argv := argvOf(t, def, p); !strings.Contains(argv, "-vnc 192.168.122.1:7,audiodev=audio1") {
		t.Errorf("argv: %s", argv)
	}
	live, _ := def.Format(0)
	if !strings.Contains(string(live), "<listen type='network' address='192.168.122.1' network='default'/>") &&
		!strings.Contains(string(live), "<listen type='network' network='default' address='192.168.122.1'/>") {
		t.Errorf("live XML:\n%s", live)
	}
	def = displayDomain(t, `<graphics type='vnc' port='5907'><listen type='network' network='default'/></graphics>`)
	if _, err := Build(def, qemu72(), goldenPaths("x")); err == nil || !strings.Contains(err.Error(), "network driver isn't present") {
		t.Errorf("without a network driver: %v", err)
	}
}
