package qemu

import (
	"path/filepath"

	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/drivers/secret"
	"govirt/uuid"
)

// Secrets of qemu:///system are served by drivers/secret, as libvirtd's
// secret driver sits beside its QEMU driver; the store is a field of the
// Driver, made on first use, its files under StateDir/secrets (libvirt's
// /etc/libvirt/secrets). Its events go on the driver's bus.

func (d *Driver) secrets() *secret.Manager {
	d.mgrMu.Lock()
	defer d.mgrMu.Unlock()
	if d.secretMgr == nil {
		d.secretMgr = secret.New(secret.Config{
			Dir: filepath.Join(d.cfg.StateDir, "secrets"),
			Bus: d.bus,
			Log: d.cfg.Log,
		})
	}
	return d.secretMgr
}

// secretLookup hands the command builder the values of the secrets disks
// name, private ones included (libvirt's internal virSecretGetSecretString).
func (d *Driver) secretLookup(ref command.SecretRef) ([]byte, error) {
	return d.secrets().Value(ref.UUID, ref.UsageType, ref.Usage)
}

// secretValue serves the storage driver (encrypted volumes).
func (d *Driver) secretValue(uuid, usageType, usage string) ([]byte, error) {
	return d.secrets().Value(uuid, usageType, usage)
}

// secretByUUID is the value of the secret a setting names by UUID (the
// VNC TLS key's password, qemu.conf's vnc_tls_x509_secret_uuid).
func (d *Driver) secretByUUID(u string) ([]byte, error) { return d.secrets().Value(u, "", "") }

var _ driver.Secrets = (*conn)(nil)

func (c *conn) ListAllSecrets(flags uint32) ([]driver.Secret, error) {
	return c.d.secrets().ListAllSecrets(flags)
}
func (c *conn) NumOfSecrets() (int32, error) { return c.d.secrets().NumOfSecrets() }
func (c *conn) ListSecrets(maxuuids int32) ([]string, error) {
	return c.d.secrets().ListSecrets(maxuuids)
}
func (c *conn) LookupSecretByUUID(u uuid.UUID) (driver.Secret, error) {
	return c.d.secrets().LookupSecretByUUID(u)
}
func (c *conn) LookupSecretByUsage(usageType int32, usageID string) (driver.Secret, error) {
	return c.d.secrets().LookupSecretByUsage(usageType, usageID)
}
func (c *conn) SecretDefineXML(xml string, flags uint32) (driver.Secret, error) {
	return c.d.secrets().SecretDefineXML(xml, flags)
}
func (c *conn) SecretGetXMLDesc(s driver.Secret, flags uint32) (string, error) {
	return c.d.secrets().SecretGetXMLDesc(s, flags)
}
func (c *conn) SecretSetValue(s driver.Secret, value []byte, flags uint32) error {
	return c.d.secrets().SecretSetValue(s, value, flags)
}
func (c *conn) SecretGetValue(s driver.Secret, flags uint32) ([]byte, error) {
	return c.d.secrets().SecretGetValue(s, flags)
}
func (c *conn) SecretUndefine(s driver.Secret) error { return c.d.secrets().SecretUndefine(s) }
