package qemu

import (
	"encoding/json"
	"os"
	"path/filepath"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// Secrets of a hot-plugged encrypted disk: QEMU gets each passphrase as a
// secret object encrypted with the master key it read at start (the
// guest's master-key.aes), added before the disk's nodes and deleted with
// them, as libvirt's qemuDomainAttachDiskGeneric.

// addDiskSecrets object-adds disk's secrets and returns their ids, for
// delDiskSecrets on a later failure.
func (d *Driver) addDiskSecrets(v *vm, mon monitor, disk *conf.Disk) ([]string, error) {
	if len(command.DiskSecretIDs(disk)) == 0 {
		return nil, nil
	}
	dir, err := d.domainDir(v.name)
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(filepath.Join(dir, "master-key.aes"))
	if err != nil || len(key) != 32 {
		return nil, errQEMU(virerr.ErrInternalError, "cannot read the master key of %s", v.name)
	}
	defer clear(key)
	objs, err := command.DiskSecretObjects(disk, d.secretLookup, key)
	if err != nil {
		return nil, err
	}
	var added []string
	for _, o := range objs {
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(o, &id)
		if err := mon.Execute(hotplugCtx(), "object-add", o, nil); err != nil {
			d.delDiskSecrets(v, mon, added)
			return nil, qmpError(err)
		}
		added = append(added, id.ID)
	}
	return added, nil
}

// delDiskSecrets object-dels secret objects; failures are only logged.
func (d *Driver) delDiskSecrets(v *vm, mon monitor, ids []string) {
	for _, id := range ids {
		if err := mon.Execute(hotplugCtx(), "object-del", map[string]any{"id": id}, nil); err != nil {
			d.log.Warn("object-del", "domain", v.name, "id", id, "err", err)
		}
	}
}
