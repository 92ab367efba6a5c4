package qemu

import (
	"os"
	"path/filepath"
	"sort"

	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// graphicsConfig is the display and audio configuration the builder
// gets: libvirt's qemu.conf defaults (listen on 127.0.0.1, no TLS, no
// SASL, no host audio for VNC or headless guests), and the daemon's
// QEMU_AUDIO_DRV / SDL_AUDIODRIVER, which libvirt reads from its own
// environment for the default audio backend of SDL displays.
func graphicsConfig() command.GraphicsConfig {
	return command.GraphicsConfig{
		AudioDriverEnv:    os.Getenv("QEMU_AUDIO_DRV"),
		SDLAudioDriverEnv: os.Getenv("SDL_AUDIODRIVER"),
	}
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
