package command

// libvirt's test configuration of displays and audio (qemuxml2argvtest.c
// and its mocks), applied to the corpus inputs as libvirt's test does.

// corpusSecret is the value of every secret in libvirt's test (its fake
// secret driver).
const corpusSecret = "AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A"

// counting is libvirt's virRandomBytes mock: 0, 1, 2, ...
func counting(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// corpusGraphics sets p up as qemuxml2argvtest configures the driver for
// input name.
func corpusGraphics(name string, p *Paths) {
	g := &p.Graphics
	// Set for the whole test.
	g.VNCTLSx509CertDir = "/etc/pki/libvirt-vnc"
	g.SpiceTLSx509CertDir = "/etc/pki/libvirt-spice"
	g.SpiceTLS = true
	g.SpicePassword = "123456"
	// Ports are not allocated in the test's "pretend" start: VNC
	// autoport is 5900, SPICE's port and TLS port 5901 and 5902.
	p.VNCPort = func() (int, error) { return 5900, nil }
	spice := 5900
	p.SpicePort = func() (int, error) { spice++; return spice, nil }
	p.RenderNode = func() (string, error) { return "/dev/dri/foo", nil }
	// qemuxml2argvtest gives every vhost-user video descriptor 1729.
	p.VhostUserGPU = func(string, string, bool) (int, error) { return 1729, nil }
	p.MasterKeyData = counting(32)
	p.RandomIV = func() ([]byte, error) { return counting(16), nil }
	p.SecretValue = func(string) ([]byte, error) { return []byte(corpusSecret), nil }
	// Set around single inputs.
	switch name {
	case "audio-default-sdl":
		g.AudioDriverEnv, g.SDLAudioDriverEnv = "sdl", "esd"
	case "audio-default-vnc":
		g.AudioDriverEnv, g.VNCAllowHostAudio = "alsa", true
	case "audio-default-nographics":
		g.AudioDriverEnv, g.NogfxAllowHostAudio = "alsa", true
	case "graphics-vnc-auto-socket-cfg":
		g.VNCAutoUnixSocket = true
	case "graphics-spice-auto-socket-cfg":
		g.SpiceAutoUnixSocket = true
	case "graphics-vnc-sasl":
		g.VNCSASL, g.VNCSASLDir = true, "/root/.sasl2"
	case "graphics-vnc-tls", "graphics-vnc-tls-secret":
		g.VNCSASL, g.VNCSASLDir = true, "/root/.sasl2"
		g.VNCTLS, g.VNCTLSx509Verify = true, true
		if name == "graphics-vnc-tls-secret" {
			g.VNCTLSx509SecretUUID = "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea"
		}
	case "graphics-spice-sasl":
		g.SpiceSASL, g.SpiceSASLDir = true, "/root/.sasl2"
	}
}
