package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/drivers/qemu/postparse"
	"govirt/virerr"
)

// graphicsConfig is the display and audio configuration the builder
// gets: the daemon's qemu.conf settings (zero: libvirt's defaults, listen
// on 127.0.0.1, no TLS, no SASL, no host audio for VNC or headless
// guests), and the daemon's QEMU_AUDIO_DRV / SDL_AUDIODRIVER, which
// libvirt reads from its own environment for the default audio backend.
func (d *Driver) graphicsConfig() command.GraphicsConfig {
	c := d.cfg.Graphics
	c.AudioDriverEnv = os.Getenv("QEMU_AUDIO_DRV")
	c.SDLAudioDriverEnv = os.Getenv("SDL_AUDIODRIVER")
	return c
}

// audioDefaults is what the default audio backend of a definition
// follows, from the same settings as graphicsConfig.
func (d *Driver) audioDefaults() postparse.Audio {
	c := d.graphicsConfig()
	return postparse.Audio{VNCAllowHostAudio: c.VNCAllowHostAudio, NogfxAllowHostAudio: c.NogfxAllowHostAudio,
		DriverEnv: c.AudioDriverEnv, SDLDriverEnv: c.SDLAudioDriverEnv}
}

// hostRenderNode is virHostGetDRMRenderNode: the first DRM render node of
// the host, for OpenGL displays that name none.
func hostRenderNode() (string, error) {
	return renderNodeIn("/dev/dri")
}

// renderNodeIn is hostRenderNode on a directory: one that cannot be
// read fails as libvirt's virDirOpen does.
func renderNodeIn(dir string) (string, error) {
	if _, err := os.ReadDir(dir); err != nil {
		msg := err.Error()
		var errno syscall.Errno
		if errors.As(err, &errno) {
			msg = errno.Error()
		}
		// g_strerror's wording: capitalised.
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return "", virerr.New(virerr.FromNone, virerr.ErrSystemError, "cannot open directory '%s': %s", dir, msg)
	}
	nodes, _ := filepath.Glob(filepath.Join(dir, "renderD*"))
	if len(nodes) == 0 {
		return "", virerr.New(virerr.FromQemu, virerr.ErrInternalError, "No DRM render nodes available")
	}
	sort.Strings(nodes)
	return nodes[0], nil
}

// validateGraphics is what libvirt checks of SPICE displays whenever it
// parses a definition (define, create, domxml-to-native): an autoport
// that is neither yes nor no (virDomainGraphicsDefParseXMLSpice), and a
// TLS port on an address or network listen while qemu.conf's spice_tls
// is off (qemuValidateDomainDeviceDefSPICEGraphics). The ports are read
// as the parser leaves them: autoport, or the legacy port='-1'
// tlsPort='-1', drops both.
func (d *Driver) validateGraphics(def *conf.Domain) error {
	for _, g := range def.Devices.Graphics {
		if g.Type != "spice" {
			continue
		}
		e := conf.DeviceElement(g)
		auto, hasAuto := e.Attr("autoport")
		if hasAuto && auto != "yes" && auto != "no" {
			return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
				"Invalid value for attribute '%s' in element '%s': '%s'.", "autoport", "graphics", auto)
		}
		num := func(name string) int {
			v, _ := e.Attr(name)
			n, _ := strconv.Atoi(v)
			return n
		}
		port, tls := num("port"), num("tlsPort")
		if auto == "yes" || (port == -1 && tls == -1) {
			tls = 0
		}
		listen := "address"
		if l := e.Child("listen"); l != nil {
			listen, _ = l.Attr("type")
		}
		if (listen == "address" || listen == "network") && tls > 0 && !d.cfg.Graphics.SpiceTLS {
			return errQEMU(virerr.ErrConfigUnsupported, "spice TLS port set in XML configuration, but TLS is disabled in qemu.conf")
		}
	}
	return nil
}
