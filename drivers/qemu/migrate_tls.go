package qemu

import (
	"context"

	"govirt/virerr"
)

// Migration with QEMU's native TLS (virsh migrate --tls), as libvirt
// 9.0's qemuMigrationParamsEnableTLS: each side adds a tls-creds-x509
// object on the migration certificates directory (qemu.conf's
// migrate_tls_x509_cert_dir, by default default_tls_x509_cert_dir), the
// destination as server (checking clients when migrate_tls_x509_verify),
// the source as client, and names it in the tls-creds parameter; the
// source checks the destination's certificate against tls-hostname (the
// migration URI's host, or --tls-destination). A migration without --tls
// clears both parameters, so that QEMU does not reuse an earlier one's.

// MigrateTLS is qemu.conf's migration TLS settings.
type MigrateTLS struct {
	// Dir holds ca-cert.pem, server-cert.pem, server-key.pem,
	// client-cert.pem and client-key.pem.
	Dir string
	// Verify makes the destination check the source's certificate.
	Verify bool
	// Force refuses migrations without --tls (migrate_tls_force).
	Force bool
}

// migTLSAlias is libvirt's alias of the migration's TLS object.
const migTLSAlias = "objlibvirt_migrate_tls0"

// checkMigrateTLSForce is libvirt's refusal under migrate_tls_force.
func (d *Driver) checkMigrateTLSForce(flags uint32) error {
	if d.cfg.MigrateTLS.Force && flags&migrateTunnelled == 0 && flags&migrateTLS == 0 {
		return errQEMU(virerr.ErrOperationInvalid, "%s", "this libvirtd instance allows migration only with VIR_MIGRATE_TLS flag")
	}
	return nil
}

// setupMigrationTLS adds the TLS object of one side (server on the
// destination) and sets tls-creds and, on the source, tls-hostname; a
// migration without --tls clears them.
func (d *Driver) setupMigrationTLS(ctx context.Context, mon monitor, flags uint32, server bool, hostname string) error {
	if flags&migrateTLS == 0 {
		p := map[string]any{"tls-creds": ""}
		if !server {
			p["tls-hostname"] = ""
		}
		// A QEMU without the parameters has no TLS to clear.
		_ = mon.Execute(ctx, "migrate-set-parameters", p, nil)
		return nil
	}
	cfg := d.cfg.MigrateTLS
	if cfg.Dir == "" {
		return errQEMU(virerr.ErrOperationInvalid, "%s", "host migration TLS directory not configured")
	}
	_ = mon.Execute(ctx, "object-del", map[string]any{"id": migTLSAlias}, nil)
	props := map[string]any{"qom-type": "tls-creds-x509", "id": migTLSAlias, "dir": cfg.Dir,
		"endpoint": "client", "verify-peer": true}
	if server {
		props["endpoint"], props["verify-peer"] = "server", cfg.Verify
	}
	if err := mon.Execute(ctx, "object-add", props, nil); err != nil {
		return qmpFailed("object-add", err)
	}
	p := map[string]any{"tls-creds": migTLSAlias}
	if !server {
		p["tls-hostname"] = hostname
	}
	if err := mon.Execute(ctx, "migrate-set-parameters", p, nil); err != nil {
		return qmpFailed("migrate-set-parameters", err)
	}
	return nil
}

// dropMigrationTLS removes the TLS object once the migration is over.
func dropMigrationTLS(ctx context.Context, mon monitor, flags uint32) {
	if mon == nil || flags&migrateTLS == 0 {
		return
	}
	_ = mon.Execute(ctx, "migrate-set-parameters", map[string]any{"tls-creds": "", "tls-hostname": ""}, nil)
	_ = mon.Execute(ctx, "object-del", map[string]any{"id": migTLSAlias}, nil)
}

// migFlagsOf is the flags of v's migration (0 without one).
func migFlagsOf(v *vm) uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.mig == nil {
		return 0
	}
	return v.mig.Flags
}
