package command

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// Secrets of disk sources: the passwords and keys of <auth>, the
// passphrases of <encryption> and HTTP cookies. QEMU gets each as a secret
// object encrypted with the domain's master key (AES-256-CBC, a fresh IV
// per secret), as libvirt's qemuDomainSecretAESSetup does.

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

// encryptionElem is a layer's <encryption>: in <source>, or directly in
// the <disk> for its top image.
func encryptionElem(l chainLayer) *conf.Element {
	if e := child(l.el, "source", "encryption"); e != nil {
		return e
	}
	if l.top {
		return child(l.el, "encryption")
	}
	return nil
}

// encryptionOf is the <encryption> QEMU decrypts of the layer written in
// el, nil when none (or when librbd decrypts).
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
	return &encInfo{format: attr(e, "format"), secret: secretRef(child(e, "secret"), "volume")}
}

func secretRef(s *conf.Element, usageType string) SecretRef {
	return SecretRef{UUID: attr(s, "uuid"), UsageType: usageType, Usage: attr(s, "usage")}
}

// lookupSecret fetches a secret's value for the source of disk dev.
func lookupSecret(env hostEnv, ref SecretRef) ([]byte, error) {
	if env.secrets == nil {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported,
			"disks with secrets (<auth>, <encryption>) need a secret store, which govirt's QEMU driver does not have")
	}
	v, err := env.secrets(ref)
	if err != nil {
		if _, ok := err.(*virerr.Error); ok {
			return nil, err
		}
		return nil, virerr.New(virerr.FromSecret, virerr.ErrInternalError, "%s", err.Error())
	}
	return v, nil
}

// secretObject is the -object secret carrying value, encrypted with the
// master key.
func (b *builder) secretObject(id string, value []byte) (obj, error) {
	key := b.p.MasterKeyData
	if len(key) != 32 {
		return nil, internalError("the domain's master key is not available to encrypt secret '%s'", id)
	}
	iv := make([]byte, aes.BlockSize)
	if b.p.RandomIV != nil {
		v, err := b.p.RandomIV()
		if err != nil {
			return nil, internalError("cannot generate an initialisation vector: %v", err)
		}
		copy(iv, v)
	} else if _, err := rand.Read(iv); err != nil {
		return nil, internalError("cannot generate an initialisation vector: %v", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, internalError("%v", err)
	}
	pad := aes.BlockSize - len(value)%aes.BlockSize
	plain := append(bytes.Clone(value), bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	return obj{}.set("qom-type", "secret").set("id", id).
		set("data", base64.StdEncoding.EncodeToString(ct)).
		set("keyid", "masterKey0").
		set("iv", base64.StdEncoding.EncodeToString(iv)).
		set("format", "base64"), nil
}

// layerObjects are the -object secrets a layer needs, in libvirt's order:
// authentication, encryption, HTTP cookies.
func (b *builder) layerObjects(d *conf.Disk, l chainLayer, env hostEnv) ([]obj, error) {
	var out []obj
	s := l.src
	if s.Type == "network" {
		if a := netAuth(l); a != nil {
			typ := map[string]string{"rbd": "ceph", "iscsi": "iscsi"}[s.Protocol]
			sec := child(a, "secret")
			if t := attr(sec, "type"); t != "" {
				typ = t
			}
			v, err := lookupSecret(env, secretRef(sec, typ))
			if err != nil {
				return nil, err
			}
			o, err := b.secretObject(s.NodeName+"-auth-secret0", v)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	if e := encryptionElem(l); e != nil && (attr(e, "engine") == "" || attr(e, "engine") == "qemu" || attr(e, "engine") == "librbd") {
		v, err := lookupSecret(env, secretRef(child(e, "secret"), "volume"))
		if err != nil {
			return nil, err
		}
		o, err := b.secretObject(s.NodeNameFormat+"-encryption-secret0", v)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if s.Type == "network" {
		if c := cookieString(child(l.el, "source"), s.Protocol); c != "" {
			o, err := b.secretObject(s.NodeName+"-httpcookie-secret0", []byte(c))
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
		src := child(l.el, "source")
		switch {
		case s.Protocol == "nbd" && b.nbdTLS(src):
			objs, err := b.tlsObjects(s, env)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		case s.Protocol != "nbd" && attr(src, "tls") == "yes":
			return nil, unsupported("TLS transport is not supported for disk protocol '%s'", s.Protocol)
		}
	}
	return out, nil
}

// checkDiskSecrets refuses what libvirt's parser and validation refuse
// about a disk's <auth> and <encryption>, with its messages.
func checkDiskSecrets(d *conf.Disk) error {
	el := conf.DeviceElement(d)
	if child(el, "auth") != nil && child(el, "source", "auth") != nil {
		return unsupported("an <auth> definition already found for disk source")
	}
	if child(el, "encryption") != nil && child(el, "source", "encryption") != nil {
		return unsupported("an <encryption> definition already found for disk source")
	}
	for _, l := range chain(d) {
		if l.src.Type == "network" {
			// virDomainDiskSourceNetworkParse's refusals.
			if l.src.Name == "" && l.src.Protocol != "nbd" {
				return xmlError("missing name for disk source")
			}
			if l.src.Protocol == "rbd" || l.src.Protocol == "gluster" {
				if i := strings.IndexByte(l.src.Name, '/'); i <= 0 {
					return xmlError("can't split path '%s' into pool name and image name", l.src.Name)
				}
			}
		}
		if a := netAuth(l); a != nil {
			switch p := l.src.Protocol; p {
			case "iscsi", "http", "https", "ftp", "ftps", "ssh", "rbd":
			default:
				return unsupported("authentication is not supported for protocol '%s'", p)
			}
			t := attr(child(a, "secret"), "type")
			switch t {
			case "volume", "ceph", "iscsi", "tls", "vtpm":
			case "":
				return unsupported("unknown secret type '<null>'")
			default:
				return unsupported("unknown secret type '%s'", t)
			}
			if (l.src.Protocol == "iscsi" && t != "iscsi") || (l.src.Protocol == "rbd" && t != "ceph") {
				return unsupported("invalid secret type '%s'", t)
			}
		}
		if e := encryptionElem(l); e != nil {
			if attr(e, "format") == "luks" && child(e, "cipher") != nil {
				return unsupported("supplying <cipher> for domain disk definition is unnecessary")
			}
			eng := attr(e, "engine")
			if eng == "librbd" && !(l.src.Type == "network" && l.src.Protocol == "rbd") {
				return unsupported("librbd encryption is supported only with RBD backed disks")
			}
			if eng == "" || eng == "qemu" {
				switch format(l.src) {
				case "raw", "qcow2":
				default:
					return unsupported("encryption is supported only with 'raw' and 'qcow2' image format")
				}
				switch attr(e, "format") {
				case "luks":
				case "luks2":
					return unsupported("luks2 is currently not supported by the qemu encryption engine")
				default:
					return unsupportedValue("devices/disk/encryption", "format", attr(e, "format"))
				}
			}
		}
	}
	return nil
}
