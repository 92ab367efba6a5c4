package qemu

import "context"

// runPostStartHooks runs once a guest is fully started — after start,
// restore and an incoming migration have COMPLETED, never while the
// incoming stream is still being read (the source owns the device state
// until then). It is the one explicit list of what the driver reads back
// from QEMU or sets up after start, in order. The hooks run with the
// caller's job held and must not take it.
func (d *Driver) runPostStartHooks(v *vm) {
	d.afterStart(v)           // pty paths, VNC port and password, console logs
	d.setLinkStates(v)        // <link state='down'/>
	d.applyBandwidths(v)      // <interface><bandwidth> through tc
	d.RefreshTrays(v)         // CD-ROM tray state
	d.refreshMemoryDevices(v) // DIMM base addresses, virtio-mem sizes
	// virtio channel states, AGENT_LIFECYCLE and the agent connection
	d.refreshChannelStates(context.Background(), v, true)
}
