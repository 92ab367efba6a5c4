package qemu

import (
	"context"
	"io"
	"os"
	"strconv"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// DomainScreenshot is virDomainScreenshot: QEMU dumps the screen to a
// temporary file (PNG when it can, else PPM, as libvirt chooses), which
// is unlinked at once and streamed from the open descriptor.
func (c *conn) DomainScreenshot(h driver.Domain, screen uint32, flags uint32) (string, io.ReadCloser, error) {
	if flags != 0 {
		return "", nil, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuDomainScreenshot", flags)
	}
	var mime string
	var img *os.File
	err := c.withJob(h, "screenshot", func(v *vm, mon monitor) error {
		v.mu.Lock()
		var videos []*conf.Video
		if v.live != nil {
			videos = v.live.Devices.Videos
		}
		png := v.caps != nil && v.caps.Has("screenshot-format-png")
		devOK := v.caps != nil && v.caps.Has("screendump_device")
		dir, dirErr := c.d.domainDir(v.name)
		alias, head := "", screen
		if len(videos) > 0 && screen > 0 {
			i := 0
			for ; i < len(videos); i++ {
				heads := videoHeads(videos[i])
				if head < heads {
					alias = videoAlias(videos[i])
					break
				}
				head -= heads
			}
			if i == len(videos) {
				alias = "-"
			}
		}
		v.mu.Unlock()
		if dirErr != nil {
			return dirErr
		}
		if len(videos) == 0 {
			return errQEMU(virerr.ErrOperationInvalid, "no screens to take screenshot from")
		}
		if screen > 0 && !devOK {
			return errQEMU(virerr.ErrOperationUnsupported, "qemu does not allow specifying screen ID")
		}
		if alias == "-" {
			return errQEMU(virerr.ErrOperationInvalid, "no such screen ID")
		}
		f, err := os.CreateTemp(dir, "qemu.screendump.")
		if err != nil {
			return errQEMU(virerr.ErrSystemError, "cannot create screendump file: %v", err)
		}
		defer os.Remove(f.Name())
		args := qmp.ScreendumpArgs{Filename: f.Name(), Device: alias, Head: int(head)}
		mime = "image/x-portable-pixmap"
		if png {
			args.Format = "png"
			mime = "image/png"
		}
		if err := qmp.Screendump(context.Background(), mon, args); err != nil {
			f.Close()
			return errQEMU(virerr.ErrInternalError, "unable to execute QEMU command 'screendump': %v", err)
		}
		// QEMU wrote through its own descriptor; ours reads from the start.
		img = f
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return mime, img, nil
}

func videoHeads(v *conf.Video) uint32 {
	if e := conf.DeviceElement(v); e != nil {
		if m := e.Child("model"); m != nil {
			if s, ok := m.Attr("heads"); ok {
				if n, err := strconv.ParseUint(s, 10, 32); err == nil && n > 0 {
					return uint32(n)
				}
			}
		}
	}
	return 1
}

func videoAlias(v *conf.Video) string {
	if e := conf.DeviceElement(v); e != nil {
		if a := e.Child("alias"); a != nil {
			s, _ := a.Attr("name")
			return s
		}
	}
	return ""
}
