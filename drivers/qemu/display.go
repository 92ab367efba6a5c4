package qemu

import (
	"os"
	"path/filepath"
	"sort"

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
	nodes, _ := filepath.Glob("/dev/dri/renderD*")
	if len(nodes) == 0 {
		return "", virerr.New(virerr.FromQemu, virerr.ErrInternalError, "No DRM render nodes available")
	}
	sort.Strings(nodes)
	return nodes[0], nil
}
