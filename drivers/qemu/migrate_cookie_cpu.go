package qemu

import (
	"govirt/conf"
	"govirt/drivers/qemu/guestcpu"
)

// The CPU part of the migration cookie (libvirt's
// QEMU_MIGRATION_COOKIE_CPU). When QEMU changed a guest's CPU at its
// start (a host-model CPU expanded, a custom CPU QEMU added features to:
// the run has an origCPU), Begin sends the CPU the guest was started with
// in its XML and the CPU QEMU created in the cookie's <cpu>. The
// destination starts QEMU with the cookie's CPU (check='full': QEMU must
// create exactly that CPU) and keeps the XML's as the run's original CPU,
// as libvirt's qemuDomainUpdateCPU in qemuProcessInit, so its live and
// migratable XML are the source's and a further migration sends the same.

// beginCPU is the definition Begin formats for v (live, its live
// definition) when the user gave no XML: with the CPU the guest was
// started with when QEMU changed it, as libvirt's Begin formats with
// priv->origCPU.
func beginCPU(v *vm, live *conf.Domain) (*conf.Domain, error) {
	v.mu.Lock()
	orig := v.origCPU
	v.mu.Unlock()
	if orig == nil {
		return live, nil
	}
	return guestcpu.WithCPU(live, orig)
}

// withCookieCPU adds the guest's live CPU to Begin's cookie when the run
// has an original CPU (qemuMigrationSrcBeginXML).
func withCookieCPU(v *vm, cookie []byte) ([]byte, error) {
	v.mu.Lock()
	orig, live := v.origCPU, v.live
	v.mu.Unlock()
	if orig == nil || live == nil {
		return cookie, nil
	}
	cpu, err := guestcpu.MigrationCPU(live)
	if err != nil || cpu == nil {
		return cookie, err
	}
	return withCookieElem(cookie, cpu), nil
}

// cookieCPUDef is the destination's side: def (the XML Begin sent) with
// the cookie's CPU when it has one that differs, and the XML's CPU to
// keep as the run's original one (nil when def stays as it is).
func cookieCPUDef(def *conf.Domain, ck *migCookie) (*conf.Domain, []byte, error) {
	if ck == nil || ck.CPUXML == "" || def.CPU == nil || def.Tree().Child("cpu") == nil {
		return def, nil, nil
	}
	if guestcpu.EqualCPU(def, []byte(ck.CPUXML)) {
		return def, nil, nil
	}
	orig := def.Tree().Child("cpu").XML()
	upd, err := guestcpu.WithCPU(def, []byte(ck.CPUXML))
	if err != nil {
		return nil, nil, err
	}
	return upd, orig, nil
}

// keepOrigCPU records, once the incoming QEMU runs, the CPU the source's
// XML had as the one this run was started with.
func (d *Driver) keepOrigCPU(v *vm, orig []byte) {
	if orig == nil {
		return
	}
	v.mu.Lock()
	v.origCPU = orig
	v.mu.Unlock()
	d.saveStatusLogged(v)
}
