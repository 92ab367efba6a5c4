package qemu

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// This file holds the calls graphical and provisioning clients make
// beyond the lifecycle: virt-manager's console (OPEN_GRAPHICS_FD), the
// balloon statistics period (dommemstat --period) and the command line a
// start would run (domxml-to-native).

// openGraphicsSkipAuth is VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH.
const openGraphicsSkipAuth = 1

// DomainOpenGraphicsFD connects a new client to the guest's VNC or SPICE
// server as qemuDomainOpenGraphicsFD does: one end of a socket pair goes
// to QEMU (getfd, then add_client), the other is returned for the caller
// to pass to the client.
func (c *conn) DomainOpenGraphicsFD(h driver.Domain, idx uint32, flags uint32) (*os.File, error) {
	if err := checkFlagsMask(flags, openGraphicsSkipAuth, "qemuDomainOpenGraphicsFD"); err != nil {
		return nil, err
	}
	_, live, err := c.runningLive(h)
	if err != nil {
		return nil, err
	}
	gs := live.Devices.Graphics
	if int(idx) >= len(gs) {
		return nil, errQEMU(virerr.ErrInternalError, "No graphics backend with index %d", idx)
	}
	protocol := gs[idx].Type
	if protocol != "vnc" && protocol != "spice" {
		return nil, errQEMU(virerr.ErrConfigUnsupported, "Can only open VNC or SPICE graphics backends, not %s", protocol)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrSystemError, "Unable to create socket pair: %v", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "graphics-client")
	theirs := os.NewFile(uintptr(fds[1]), "graphics-qemu")
	defer theirs.Close() // QEMU has its own copy once getfd returns
	err = c.withJob(h, "opengraphicsfd", func(v *vm, mon monitor) error {
		fm, ok := mon.(fdMonitor)
		if !ok {
			return errQEMU(virerr.ErrOperationUnsupported, "monitor cannot pass descriptors")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := fm.ExecuteWithFiles(ctx, "getfd", map[string]string{"fdname": "graphicsfd"}, nil, theirs); err != nil {
			return qmpFailed("getfd", err)
		}
		args := map[string]any{"protocol": protocol, "fdname": "graphicsfd",
			"skipauth": flags&openGraphicsSkipAuth != 0, "tls": false}
		if err := mon.Execute(ctx, "add_client", args, nil); err != nil {
			// QEMU keeps a named descriptor until it is used or closed.
			_ = mon.Execute(ctx, "closefd", map[string]string{"fdname": "graphicsfd"}, nil)
			return qmpFailed("add_client", err)
		}
		return nil
	})
	if err != nil {
		mine.Close()
		return nil, err
	}
	return mine, nil
}

// DomainSetMemoryStatsPeriod sets how often the balloon driver collects
// guest memory statistics, live (qom-set on the balloon device) and/or in
// the persistent definition (<memballoon><stats period>).
func (c *conn) DomainSetMemoryStatsPeriod(h driver.Domain, period int32, flags uint32) error {
	if err := checkFlagsMask(flags, affectLive|affectConfig, "qemuDomainSetMemoryStatsPeriod"); err != nil {
		return err
	}
	v, err := c.jobVM(h, "setmemstatsperiod")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, mon, def, cur := v.active(), v.mon, v.def, v.live
	v.mu.Unlock()
	live, config, err := impact(flags, active)
	if err != nil {
		return err
	}
	if config && def == nil {
		return errQEMU(virerr.ErrOperationInvalid, "cannot change persistent config of a transient domain")
	}
	noBalloon := errQEMU(virerr.ErrInternalError, "No memory balloon device configured, can not set the collection period")
	if live {
		b := cur.Devices.MemBalloon
		if b == nil || b.Model == "none" {
			return noBalloon
		}
		if mon == nil || setBalloonPeriod(mon, b, period) != nil {
			return errQEMU(virerr.ErrOperationInvalid, "unable to set balloon driver collection period")
		}
		v.mu.Lock()
		if v.live != nil {
			next := v.live.Clone() // readers format v.live outside the lock
			next.Devices.MemBalloon.Period = int(period)
			v.live = next
		}
		v.mu.Unlock()
		c.d.saveStatusLogged(v)
	}
	if config {
		if b := def.Devices.MemBalloon; b == nil || b.Model == "none" {
			return noBalloon
		}
		nd := def.Clone()
		nd.Devices.MemBalloon.Period = int(period)
		if err := c.d.saveDef(nd); err != nil {
			return err
		}
		v.mu.Lock()
		v.def = nd
		v.mu.Unlock()
	}
	return nil
}

// setBalloonPeriod is qemuMonitorSetMemoryStatsPeriod: the balloon's
// guest-stats-polling-interval property, found under the device's id.
func setBalloonPeriod(mon monitor, b *conf.MemBalloon, period int32) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return mon.Execute(ctx, "qom-set", map[string]any{"path": "/machine/peripheral/" + b.Alias,
		"property": "guest-stats-polling-interval", "value": period}, nil)
}

// setupBalloonPeriod applies <memballoon><stats period> at start, as
// qemuProcessSetupBalloon does; a failure is only logged there too.
func (d *Driver) setupBalloonPeriod(v *vm, mon monitor) {
	v.mu.Lock()
	var b *conf.MemBalloon
	if v.live != nil {
		b = v.live.Devices.MemBalloon
	}
	name := v.name
	v.mu.Unlock()
	if b == nil || b.Model == "none" || b.Period <= 0 {
		return
	}
	if err := setBalloonPeriod(mon, b, int32(b.Period)); err != nil {
		d.log.Warn("cannot set the balloon statistics period", "domain", name, "err", err)
	}
}

// ConnectDomainXMLToNative returns the command line starting xml would
// run, formatted as libvirt's virCommandToString (environment, then the
// arguments, shell-quoted where needed, on one line), as libvirt's
// pretend start builds it (qemuConnectDomainXMLToNative): the definition
// is parsed with the post-parse defaults, every interface is replaced by
// a plain 'ethernet' one (pretendInterfaces), and the build prepares
// nothing on the host (command.Paths.Pretend).
func (c *conn) ConnectDomainXMLToNative(format, xml string, flags uint32) (string, error) {
	if err := checkFlagsMask(flags, 0, "qemuConnectDomainXMLToNative"); err != nil {
		return "", err
	}
	if format != "qemu-argv" {
		return "", errQEMU(virerr.ErrInvalidArg, "unsupported config type %s", format)
	}
	def, err := parseDef(xml, false)
	if err != nil {
		return "", err
	}
	if err := c.d.validateGraphics(def); err != nil {
		return "", err
	}
	if err := c.d.applyPostParse(def); err != nil {
		return "", err
	}
	if err := pretendInterfaces(def); err != nil {
		return "", err
	}
	if def.Devices.Emulator == "" {
		def.Devices.Emulator = c.d.cfg.Emulator
	}
	qcaps, err := c.d.caps.get(context.Background(), def.Devices.Emulator)
	if err != nil {
		return "", err
	}
	dir, err := c.d.domainDir(def.Name)
	if err != nil {
		return "", err
	}
	// libvirt's placeholders for ports a real start would allocate
	// (qemuProcessGraphicsReservePorts without allocation).
	spice := 5900
	// As libvirt's pretend start, a master key is made (never written)
	// and its secret object is on the command line.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", errQEMU(virerr.ErrInternalError, "cannot make a master key: %v", err)
	}
	cl, err := command.Build(def, qcaps, command.Paths{Name: def.Name, DomainDir: dir,
		MonitorSocket: filepath.Join(dir, "monitor.sock"),
		MasterKey:     filepath.Join(dir, "master-key.aes"), MasterKeyData: key,
		// Disk presence and startupPolicy are the host preparation of
		// a real start (qemuProcessPrepareHostStorage), which libvirt's
		// pretend start skips: an optional missing image stays.
		SourceExists: func(string) bool { return true },
		VNCPort:      func() (int, error) { return 5900, nil },
		SpicePort:    func() (int, error) { spice++; return spice, nil },
		Graphics:     c.d.graphicsConfig(), RenderNode: hostRenderNode, Pretend: true,
		Secrets: c.d.secretLookup, SecretValue: c.d.secretByUUID})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range cl.Env {
		k, val, _ := strings.Cut(e, "=")
		b.WriteString(k + "=" + shellEscape(val) + " ")
	}
	for i, a := range cl.Argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellEscape(a))
	}
	return b.String(), nil
}

// shellEscape is virBufferEscapeShell: quoted only when the string holds a
// shell metacharacter; a single quote inside ends the quoting, is
// written escaped, and quoting resumes.
func shellEscape(s string) string {
	if s == "" {
		return "''"
	}
	if !strings.ContainsAny(s, "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pretendInterfaces replaces every interface of def by what libvirt's
// domxml-to-native makes of it: a new 'ethernet' interface keeping only
// the MAC, the model and the <script> (the host side of a network,
// bridge or direct interface is not set up for a command never run).
// Everything else is dropped, the address and alias too, which are
// assigned again as at start; the boot order libvirt copies reaches no
// command line (the copy lacks the effective boot index), so it is left
// out as well.
func pretendInterfaces(def *conf.Domain) error {
	for i, n := range def.Devices.Interfaces {
		var b strings.Builder
		b.WriteString("<interface type='ethernet'>")
		if n.MAC != "" {
			b.WriteString("<mac address='" + xmlAttr(n.MAC) + "'/>")
		}
		if n.Model != "" {
			b.WriteString("<model type='" + xmlAttr(n.Model) + "'/>")
		}
		if sc := conf.DeviceElement(n).Child("script"); sc != nil {
			if path, _ := sc.Attr("path"); path != "" {
				b.WriteString("<script path='" + xmlAttr(path) + "'/>")
			}
		}
		b.WriteString("</interface>")
		dev, err := conf.ParseDevice([]byte(b.String()))
		if err != nil {
			return err
		}
		nn, ok := dev.(*conf.Interface)
		if !ok {
			return errQEMU(virerr.ErrInternalError, "cannot make the interface of %s", n.MAC)
		}
		def.Devices.Interfaces[i] = nn
	}
	return nil
}

// xmlAttr escapes s for a single-quoted XML attribute.
func xmlAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}
