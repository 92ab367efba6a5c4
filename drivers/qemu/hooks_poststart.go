package qemu

// postStartHooks run once a guest is fully started — after start, restore
// and an incoming migration have COMPLETED, never while the incoming
// stream is still being read (the source owns the device state until
// then). Each part of the driver that reads state back from QEMU after
// start (tray state, ...) appends its hook from init. The hooks run with
// the caller's job held and must not take it.
var postStartHooks []func(d *Driver, v *vm)

// runPostStartHooks is what lifecycle code calls at those points.
func (d *Driver) runPostStartHooks(v *vm) {
	for _, h := range postStartHooks {
		h(d, v)
	}
}
