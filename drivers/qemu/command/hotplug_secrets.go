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

// DiskSecretRefs are the secrets disk's layers need, top layer first and
// per layer authentication before encryption, as libvirt's
// qemuDomainSecretStorageSourcePrepare meets them; nil for a disk whose
// secrets libvirt's validation refuses (Build reports that).
func DiskSecretRefs(disk *conf.Disk) []SecretRef {
	if checkDiskSecrets(disk) != nil {
		return nil
	}
	var out []SecretRef
	for _, l := range chain(disk) {
		if l.src.Type == "network" {
			if a := netAuth(l); a != nil {
				typ := map[string]string{"rbd": "ceph", "iscsi": "iscsi"}[l.src.Protocol]
				sec := child(a, "secret")
				if t := attr(sec, "type"); t != "" {
					typ = t
				}
				out = append(out, secretRef(sec, typ))
			}
		}
		if e := encryptionElem(l); e != nil && (attr(e, "engine") == "" || attr(e, "engine") == "qemu" || attr(e, "engine") == "librbd") {
			out = append(out, secretRef(child(e, "secret"), "volume"))
		}
	}
	return out
}
