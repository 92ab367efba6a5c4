package command

import (
	"govirt/conf"
)

// SecretRef names a libvirt secret as a disk's <auth><secret> or
// <encryption><secret> does: by UUID, or by usage type and usage ID.
type SecretRef struct {
	UUID      string
	UsageType string // ceph, iscsi, volume, tls, ...
	Usage     string
}

// SecretLookup returns the value of a secret.
type SecretLookup func(ref SecretRef) ([]byte, error)

// encInfo is a layer's <encryption> handled by QEMU.
type encInfo struct {
	format string // luks, qcow
	secret SecretRef
}

// alias is the id of the secret object holding the passphrase.
func (e *encInfo) alias(s *conf.DiskSource) string {
	return s.NodeNameFormat + "-encryption-secret0"
}

// encryptionOf is the <encryption> of a layer (in <source> or, for the
// top image, directly in <disk>), nil when none.
func encryptionOf(el *conf.Element) *encInfo {
	e := child(el, "source", "encryption")
	if e == nil && el != nil && el.Name() == "disk" {
		e = child(el, "encryption")
	}
	if e == nil {
		return nil
	}
	if eng := attr(e, "engine"); eng != "" && eng != "qemu" {
		return nil
	}
	s := child(e, "secret")
	return &encInfo{format: attr(e, "format"), secret: SecretRef{UUID: attr(s, "uuid"), UsageType: "volume", Usage: attr(s, "usage")}}
}

// layerObjects are the -object secrets a layer needs, in libvirt's order.
func (b *builder) layerObjects(d *conf.Disk, l chainLayer, env hostEnv) ([]obj, error) {
	return nil, nil
}

// networkStorage is the protocol node of a network source.
func (b *builder) networkStorage(d *conf.Disk, l chainLayer, env hostEnv) (obj, error) {
	return nil, unsupportedValue("devices/disk", "type", "network")
}
