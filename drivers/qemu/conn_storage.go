package qemu

import (
	"io"
	"path/filepath"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/storagepool"
	"govirt/uuid"
)

// Storage pools and volumes of qemu:///system are served by
// drivers/storagepool, as libvirtd's storage driver sits beside its QEMU
// driver. The manager is a field of the Driver, made on first use; its
// files live under
// StateDir/storage (definitions, autostart) and RunDir/storage (which
// pools are active, so a restarted daemon keeps them active).

func (d *Driver) storage() *storagepool.Manager {
	d.mgrMu.Lock()
	defer d.mgrMu.Unlock()
	if d.storageMgr == nil {
		d.storageMgr = storagepool.New(storagepool.Config{
			StateDir: filepath.Join(d.cfg.StateDir, "storage"),
			RunDir:   filepath.Join(d.cfg.RunDir, "storage"),
			Bus:      d.bus,
			Log:      d.cfg.Log,
			Secret:   d.secretValue,
			SecretByVolume: func(path string) string {
				s, err := d.secrets().LookupSecretByUsage(conf.SecretUsageVolume, path)
				if err != nil {
					return ""
				}
				return s.UUID.String()
			},
		})
	}
	return d.storageMgr
}

// StorageAutostart starts the pools marked autostart. The daemon calls it
// once at start, before guests are autostarted (their disks may live in
// those pools).
func (d *Driver) StorageAutostart() { d.storage().Autostart() }

var (
	_ driver.StoragePools       = (*conn)(nil)
	_ driver.StorageVols        = (*conn)(nil)
	_ driver.StoragePoolSources = (*conn)(nil)
	_ driver.StoragePoolCapser  = (*conn)(nil)
)

func (c *conn) ConnectGetStoragePoolCapabilities(flags uint32) (string, error) {
	return c.d.storage().ConnectGetStoragePoolCapabilities(flags)
}

func (c *conn) FindStoragePoolSources(typ, srcSpec string, flags uint32) (string, error) {
	return c.d.storage().FindStoragePoolSources(typ, srcSpec, flags)
}

func (c *conn) ListAllStoragePools(flags uint32) ([]driver.Pool, error) {
	return c.d.storage().ListAllStoragePools(flags)
}
func (c *conn) LookupStoragePoolByName(name string) (driver.Pool, error) {
	return c.d.storage().LookupStoragePoolByName(name)
}
func (c *conn) LookupStoragePoolByUUID(u uuid.UUID) (driver.Pool, error) {
	return c.d.storage().LookupStoragePoolByUUID(u)
}
func (c *conn) LookupStoragePoolByVolume(v driver.Vol) (driver.Pool, error) {
	return c.d.storage().LookupStoragePoolByVolume(v)
}
func (c *conn) LookupStoragePoolByTargetPath(path string) (driver.Pool, error) {
	return c.d.storage().LookupStoragePoolByTargetPath(path)
}
func (c *conn) StoragePoolDefineXML(xml string, flags uint32) (driver.Pool, error) {
	return c.d.storage().StoragePoolDefineXML(xml, flags)
}
func (c *conn) StoragePoolCreateXML(xml string, flags uint32) (driver.Pool, error) {
	return c.d.storage().StoragePoolCreateXML(xml, flags)
}
func (c *conn) StoragePoolBuild(p driver.Pool, flags uint32) error {
	return c.d.storage().StoragePoolBuild(p, flags)
}
func (c *conn) StoragePoolUndefine(p driver.Pool) error { return c.d.storage().StoragePoolUndefine(p) }
func (c *conn) StoragePoolCreate(p driver.Pool, flags uint32) error {
	return c.d.storage().StoragePoolCreate(p, flags)
}
func (c *conn) StoragePoolDestroy(p driver.Pool) error { return c.d.storage().StoragePoolDestroy(p) }
func (c *conn) StoragePoolDelete(p driver.Pool, flags uint32) error {
	return c.d.storage().StoragePoolDelete(p, flags)
}
func (c *conn) StoragePoolRefresh(p driver.Pool, flags uint32) error {
	return c.d.storage().StoragePoolRefresh(p, flags)
}
func (c *conn) StoragePoolGetInfo(p driver.Pool) (driver.PoolInfo, error) {
	return c.d.storage().StoragePoolGetInfo(p)
}
func (c *conn) StoragePoolGetXMLDesc(p driver.Pool, flags uint32) (string, error) {
	return c.d.storage().StoragePoolGetXMLDesc(p, flags)
}
func (c *conn) StoragePoolGetAutostart(p driver.Pool) (bool, error) {
	return c.d.storage().StoragePoolGetAutostart(p)
}
func (c *conn) StoragePoolSetAutostart(p driver.Pool, on bool) error {
	return c.d.storage().StoragePoolSetAutostart(p, on)
}
func (c *conn) StoragePoolIsActive(p driver.Pool) (bool, error) {
	return c.d.storage().StoragePoolIsActive(p)
}
func (c *conn) StoragePoolIsPersistent(p driver.Pool) (bool, error) {
	return c.d.storage().StoragePoolIsPersistent(p)
}
func (c *conn) StoragePoolNumOfVolumes(p driver.Pool) (int32, error) {
	return c.d.storage().StoragePoolNumOfVolumes(p)
}

func (c *conn) StoragePoolListAllVolumes(p driver.Pool, flags uint32) ([]driver.Vol, error) {
	return c.d.storage().StoragePoolListAllVolumes(p, flags)
}
func (c *conn) LookupStorageVolByName(p driver.Pool, name string) (driver.Vol, error) {
	return c.d.storage().LookupStorageVolByName(p, name)
}
func (c *conn) LookupStorageVolByKey(key string) (driver.Vol, error) {
	return c.d.storage().LookupStorageVolByKey(key)
}
func (c *conn) LookupStorageVolByPath(path string) (driver.Vol, error) {
	return c.d.storage().LookupStorageVolByPath(path)
}
func (c *conn) StorageVolCreateXML(p driver.Pool, xml string, flags uint32) (driver.Vol, error) {
	return c.d.storage().StorageVolCreateXML(p, xml, flags)
}
func (c *conn) StorageVolCreateXMLFrom(p driver.Pool, xml string, clone driver.Vol, flags uint32) (driver.Vol, error) {
	return c.d.storage().StorageVolCreateXMLFrom(p, xml, clone, flags)
}
func (c *conn) StorageVolDelete(v driver.Vol, flags uint32) error {
	return c.d.storage().StorageVolDelete(v, flags)
}
func (c *conn) StorageVolWipe(v driver.Vol, flags uint32) error {
	return c.d.storage().StorageVolWipe(v, flags)
}
func (c *conn) StorageVolResize(v driver.Vol, capacity uint64, flags uint32) error {
	return c.d.storage().StorageVolResize(v, capacity, flags)
}
func (c *conn) StorageVolGetInfo(v driver.Vol) (driver.VolInfo, error) {
	return c.d.storage().StorageVolGetInfo(v)
}
func (c *conn) StorageVolGetXMLDesc(v driver.Vol, flags uint32) (string, error) {
	return c.d.storage().StorageVolGetXMLDesc(v, flags)
}
func (c *conn) StorageVolGetPath(v driver.Vol) (string, error) {
	return c.d.storage().StorageVolGetPath(v)
}
func (c *conn) StorageVolUpload(v driver.Vol, r io.Reader, offset, length uint64, flags uint32) error {
	return c.d.storage().StorageVolUpload(v, r, offset, length, flags)
}
func (c *conn) StorageVolDownload(v driver.Vol, w io.Writer, offset, length uint64, flags uint32) error {
	return c.d.storage().StorageVolDownload(v, w, offset, length, flags)
}
