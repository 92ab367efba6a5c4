package qemu

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"govirt/conf"
	"govirt/drivers/qemu/caps"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// monitor is what the driver needs of a QMP connection.
type monitor interface {
	Execute(ctx context.Context, cmd string, args, ret any) error
	Close() error
}

// capsSource probes each emulator once and caches the result on disk.
type capsSource struct{ cache *caps.Cache }

func newCapsSource(dir string) capsSource { return capsSource{cache: &caps.Cache{Dir: dir}} }

func (c capsSource) get(ctx context.Context, binary string) (*caps.Caps, error) {
	qc, err := c.cache.Get(ctx, binary)
	if err != nil {
		return nil, errQEMU(virerr.ErrInternalError, "cannot probe QEMU capabilities of %s: %v", binary, err)
	}
	return qc, nil
}

// buildCommand turns the live definition into QEMU's argv; it assigns
// aliases, addresses and node names in live as it goes.
// Descriptors QEMU inherits after the monitor are numbered in files: the
// ones opened while building (vsock, taps, vhost-net, TPM passthrough)
// and the ones the command lists in Files, which the caller opens into
// their reserved places (openHost). The command line also names what the
// driver sets up before QEMU starts (virtiofsd, passt, PCI functions for
// vfio-pci). The varstore and swtpm the guest needs are ready when it
// returns; resetNVRAM recreates the varstore (start --reset-nvram).
func (d *Driver) buildCommand(live *conf.Domain, qc *caps.Caps, dir, chanDir, monPath string, files *passedFiles, resetNVRAM bool, ap *autoPlacement) (*command.Cmdline, error) {
	if err := d.checkDiskSecrets(live); err != nil {
		return nil, err
	}
	if err := validateTSC(live); err != nil {
		return nil, err
	}
	key := filepath.Join(dir, "master-key.aes")
	keyData, err := writeMasterKey(key)
	if err != nil {
		return nil, errQEMU(virerr.ErrInternalError, "cannot write the master key of %s: %v", live.Name, err)
	}
	p := command.Paths{MonitorSocket: monPath, MonitorFD: monitorFD, DomainDir: dir, ChannelDir: chanDir, Name: live.Name, MasterKey: key, MasterKeyData: keyData, VNCPort: d.displayPortFor(live, "vnc"), SpicePort: d.displayPortFor(live, "spice"),
		WebsocketPort: d.websocketPortFor(live),
		Graphics:      d.graphicsConfig(), RenderNode: hostRenderNode,
		NetworkAddress: d.networks().ListenAddress,
		OpenVsock:      openVsock(files), ChardevTLS: d.cfg.ChardevTLS,
		HostFD:  func(command.HostFile, bool) int { return files.reserve() },
		OpenTap: openTap(files, dir), OpenVhostNet: openVhostNet(files),
		Secrets: d.secretLookup, SecretValue: d.secretByUUID}
	d.platformPaths(&p, dir, files)
	p.ResetNVRAM = resetNVRAM
	p.FDGroup = d.fdGroupPaths(live.UUID, files)
	if ap != nil {
		p.AutoNodeset = ap.nodes
	}
	cl, err := command.Build(live, qc, p)
	if err != nil {
		return nil, err
	}
	if err := d.preparePlatform(cl, live, dir, resetNVRAM); err != nil {
		return nil, err
	}
	return cl, nil
}

// writeMasterKey writes 32 random bytes only the daemon and QEMU read,
// as libvirt's master-key.aes: secrets handed to QEMU are encrypted with it.
func writeMasterKey(path string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, os.WriteFile(path, key, 0o600)
}

// connectMonitor waits for QEMU's monitor socket and negotiates QMP. It
// gives up when QEMU exits or monitorTimeout passes.
func (d *Driver) connectMonitor(ctx context.Context, v *vm, path string, proc *process) (monitor, error) {
	ctx, cancel := context.WithTimeout(ctx, monitorTimeout)
	defer cancel()
	opts := qmp.Options{
		OnEvent: func(ev qmp.Event) { d.publishMonitorEvent(v, ev); d.handleEvent(v, ev.Name, ev.Data) },
		OnEOF:   func(error) { d.monitorEOF(v) },
		Logger:  d.log,
	}
	for {
		m, err := qmp.Dial(ctx, path, opts)
		if err == nil {
			return m, nil
		}
		select {
		case <-proc.exited:
			return nil, errors.New("QEMU exited during startup")
		case <-ctx.Done():
			return nil, fmt.Errorf("monitor %s: %w", path, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}
