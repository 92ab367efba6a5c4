package qemu

import (
	"context"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// applyDiskThrottles sends block_set_io_throttle for every disk of live
// with an <iotune>, as libvirt's qemuProcessSetupDiskThrottling does
// before the guest's CPUs first run.
func applyDiskThrottles(ctx context.Context, mon monitor, live *conf.Domain) error {
	cmds, err := command.DiskThrottles(live)
	if err != nil {
		return err
	}
	for _, args := range cmds {
		if err := mon.Execute(ctx, "block_set_io_throttle", args, nil); err != nil {
			return errQEMU(virerr.ErrOperationFailed, "cannot set disk I/O throttling: %v", err)
		}
	}
	return nil
}
