package qemu

import (
	"errors"
	"net"
	"strings"
	"syscall"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// DomainOpenChannel is qemuDomainOpenChannel: a stream to a guest
// channel's unix socket, exclusive as a console session is (the same
// hub machinery), but without the console log: channel traffic is a
// protocol between programs, not something to keep.
func (c *conn) DomainOpenChannel(h driver.Domain, name string, flags uint32) (driver.ConsoleSession, error) {
	if flags&^driver.ChannelForce != 0 {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuDomainOpenChannel", flags&^driver.ChannelForce)
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if !v.active() {
		v.mu.Unlock()
		return nil, errNotRunning()
	}
	chr := pickChannel(v.live, name)
	var typ, path, alias string
	if chr != nil {
		typ, path, alias = chr.Type, chr.SourcePath, chr.Alias
	}
	v.mu.Unlock()
	if chr == nil {
		n := name
		if n == "" {
			n = "<null>"
		}
		return nil, errQEMU(virerr.ErrInternalError, "cannot find channel %s", n)
	}
	if typ != "unix" {
		n := name
		if n == "" {
			n = alias
		}
		if n == "" {
			n = "<null>"
		}
		return nil, errQEMU(virerr.ErrInternalError, "channel %s is not using a UNIX socket", n)
	}
	hub, err := hubFor(v, path, func() (*consoleHub, error) {
		sock, err := net.Dial("unix", path)
		if err != nil {
			return nil, err
		}
		return &consoleHub{v: v, path: path, dev: sock, done: make(chan struct{})}, nil
	})
	if err != nil {
		// virChrdevOpen's virFDStreamConnectUNIX failure.
		return nil, virerr.New(virerr.FromStreams, virerr.ErrSystemError, "Unable to connect to UNIX socket server %s: %v", path, sysErrText(err))
	}
	s := &consoleSession{hub: hub, over: make(chan struct{})}
	busy, gone := hub.attach(s, flags&driver.ChannelForce != 0)
	if busy {
		return nil, errQEMU(virerr.ErrOperationFailed, "Active channel stream exists for this domain")
	}
	if gone {
		return nil, errQEMU(virerr.ErrOperationFailed, "channel device %s is gone", path)
	}
	return s, nil
}

// pickChannel is qemuDomainOpenChannel's choice: by alias, or by the
// target name of a virtio channel (the last match wins, as libvirt's
// loop keeps looking at the name of the channel it just matched by
// alias); without a name the first channel. Call with v.mu held.
func pickChannel(def *conf.Domain, name string) *conf.Chardev {
	if def == nil {
		return nil
	}
	chs := def.Devices.Channels
	if name == "" {
		if len(chs) > 0 {
			return chs[0]
		}
		return nil
	}
	var chr *conf.Chardev
	for _, ch := range chs {
		if chr != nil {
			break
		}
		if ch.Alias == name {
			chr = ch
		}
		if ch.TargetType == "virtio" && ch.TargetName == name {
			chr = ch
		}
	}
	return chr
}

// sysErrText is strerror's text for the errno behind err (glibc
// capitalises what Go spells in lower case), else err's own text.
func sysErrText(err error) string {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return err.Error()
	}
	s := en.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}
