package command

import (
	"encoding/json"

	"govirt/conf"
)

// DiskSecretObjects returns the object-add arguments of the secrets a
// hot-plugged disk's layers need (LUKS passphrases), bottom layer first,
// each encrypted with the guest's master key as at start; QEMU must have
// them before the blockdev-add of the nodes that name them
// (qemuBlockStorageSourceAttachApply).
func DiskSecretObjects(disk *conf.Disk, secrets SecretLookup, masterKey []byte) ([]json.RawMessage, error) {
	b := &builder{p: Paths{MasterKeyData: masterKey}}
	env := hostEnv{isCDROM: IsCDROM, secrets: secrets}
	ls := chain(disk)
	var out []json.RawMessage
	for i := len(ls) - 1; i >= 0; i-- {
		objs, err := b.layerObjects(disk, ls[i], env)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			out = append(out, json.RawMessage(o.String()))
		}
	}
	return out, nil
}

// DiskSecretIDs are the ids of the secret objects of disk's encrypted
// layers, which go with the disk's nodes when it is unplugged.
func DiskSecretIDs(disk *conf.Disk) []string {
	var out []string
	for _, l := range chain(disk) {
		if encryptionElem(l) != nil {
			out = append(out, l.src.NodeNameFormat+"-encryption-secret0")
		}
	}
	return out
}
