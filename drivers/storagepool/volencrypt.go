package storagepool

import (
	"os"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// Encrypted volumes (libvirt's storageBackendCreateQemuImg with
// vol->target.encryption): qemu-img creates a LUKS image (raw) or a qcow2
// with LUKS encryption, the passphrase read from the secret the
// <encryption> names. qemu-img gets it in a file of its own (0600, in
// the run directory, removed when qemu-img is done), never on its
// command line.

// volEncryption is a volume's <target><encryption>.
type volEncryption struct {
	format  string // default, qcow, luks, luks2
	secrets []secretRef
	// cipher and ivgen are <cipher> and <ivgen> (LUKS only), each
	// attribute's value in libvirt's order, "" when absent.
	cipher *[4]string // name, size, mode, hash
	ivgen  *[2]string // name, hash
}

type secretRef struct{ uuid, usage string }

func parseVolEncryption(def *conf.StorageVolume) (*volEncryption, error) {
	e := def.Encryption()
	if e == nil {
		return nil, nil
	}
	enc := &volEncryption{}
	enc.format, _ = e.Attr("format")
	switch enc.format {
	case "":
		enc.format = "default"
	case "default", "qcow", "luks", "luks2":
	default:
		return nil, errStorage(virerr.ErrXMLError, "unknown volume encryption format type %s", enc.format)
	}
	for _, s := range e.Children("secret") {
		t, _ := s.Attr("type")
		if t != "passphrase" {
			return nil, errStorage(virerr.ErrXMLError, "unknown volume encryption secret type %s", t)
		}
		u, _ := s.Attr("uuid")
		usage, _ := s.Attr("usage")
		if u != "" && usage != "" {
			return nil, errStorage(virerr.ErrXMLError, "%s", "either secret uuid or usage expected")
		}
		if u == "" && usage == "" {
			return nil, errStorage(virerr.ErrXMLError, "%s", "missing secret uuid or usage attribute")
		}
		enc.secrets = append(enc.secrets, secretRef{uuid: u, usage: usage})
	}
	if c := e.Child("cipher"); c != nil {
		var v [4]string
		for i, a := range []string{"name", "size", "mode", "hash"} {
			v[i], _ = c.Attr(a)
		}
		enc.cipher = &v
	}
	if g := e.Child("ivgen"); g != nil {
		var v [2]string
		v[0], _ = g.Attr("name")
		v[1], _ = g.Attr("hash")
		enc.ivgen = &v
	}
	return enc, nil
}

// xml is virStorageEncryptionFormat, indented for a volume's <target>:
// the secrets, then (LUKS with a cipher) <cipher> and <ivgen>.
func (e *volEncryption) xml() string {
	var b strings.Builder
	b.WriteString("    <encryption format='" + xmlEsc(e.format) + "'>\n")
	for _, s := range e.secrets {
		if s.uuid != "" {
			b.WriteString("      <secret type='passphrase' uuid='" + xmlEsc(s.uuid) + "'/>\n")
		} else {
			b.WriteString("      <secret type='passphrase' usage='" + xmlEsc(s.usage) + "'/>\n")
		}
	}
	if e.format == "luks" && e.cipher != nil && e.cipher[0] != "" {
		size := e.cipher[1]
		if size == "" {
			size = "0"
		}
		b.WriteString("      <cipher name='" + xmlEsc(e.cipher[0]) + "' size='" + xmlEsc(size) + "'")
		if e.cipher[2] != "" {
			b.WriteString(" mode='" + xmlEsc(e.cipher[2]) + "'")
		}
		if e.cipher[3] != "" {
			b.WriteString(" hash='" + xmlEsc(e.cipher[3]) + "'")
		}
		b.WriteString("/>\n")
		if e.ivgen != nil && e.ivgen[0] != "" {
			b.WriteString("      <ivgen name='" + xmlEsc(e.ivgen[0]) + "'")
			if e.ivgen[1] != "" {
				b.WriteString(" hash='" + xmlEsc(e.ivgen[1]) + "'")
			}
			b.WriteString("/>\n")
		}
	}
	b.WriteString("    </encryption>\n")
	return b.String()
}

// volumeEncryption is what vol-dumpxml shows of v's encryption, as
// libvirt's volume definition holds it: the <encryption> the volume was
// created with until a pool refresh re-reads the image, then what the
// image header says (format only), with the secret whose usage is the
// volume's path (storageBackendLoadDefaultSecrets) if there is one.
func (m *Manager) volumeEncryption(v *vol, st *volStat) *volEncryption {
	if v.enc != nil {
		return v.enc
	}
	if st.encFormat == "" {
		return nil
	}
	e := &volEncryption{format: st.encFormat}
	if m.cfg.SecretByVolume != nil {
		if u := m.cfg.SecretByVolume(v.path); u != "" {
			e.secrets = []secretRef{{uuid: u}}
		}
	}
	return e
}

// secretFile writes the passphrase of r's encryption where qemu-img reads
// it (storageBackendCreateQemuImgSecretPath); the caller removes it.
func (m *Manager) secretFile(d *poolDef, r *volReq) (string, error) {
	if len(r.enc.secrets) != 1 {
		return "", errStorage(virerr.ErrInvalidArg, "%s", "A single <secret type='passphrase'...> element is expected in encryption description")
	}
	if m.cfg.Secret == nil {
		return "", errStorage(virerr.ErrNoSupport, "%s", "no secret store for encrypted volumes")
	}
	if err := os.MkdirAll(m.cfg.RunDir, 0o755); err != nil {
		return "", errSys(err, "cannot create directory '%s'", m.cfg.RunDir)
	}
	f, err := os.CreateTemp(m.cfg.RunDir, d.name+"."+r.name+".secret.*")
	if err != nil {
		return "", errSys(err, "%s", "failed to open secret file for write")
	}
	path := f.Name()
	ref := r.enc.secrets[0]
	v, err := m.cfg.Secret(ref.uuid, "volume", ref.usage)
	if err == nil {
		_, err = f.Write(v)
		clear(v)
		if err != nil {
			err = errSys(err, "%s", "failed to write secret file")
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = errSys(cerr, "%s", "failed to write secret file")
	}
	if err == nil && r.perms.uid != -1 && r.perms.gid != -1 {
		if os.Chown(path, int(r.perms.uid), int(r.perms.gid)) != nil {
			err = errStorage(virerr.ErrInternalError, "%s", "failed to chown secret file")
		}
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// encryptionArgs are qemu-img's arguments for r's encryption: the image
// type (luks for a raw volume), the secret object reading secretPath and
// the -o options, after libvirt's checks.
func encryptionArgs(r *volReq, secretPath string) (typ string, object []string, opts []string, err error) {
	typ = r.format
	if (r.enc.format == "qcow" || r.enc.format == "default") && (r.format == "qcow" || r.format == "qcow2") {
		return "", nil, nil, errStorage(virerr.ErrConfigUnsupported, "%s", "creation of qcow2 encrypted image is not supported")
	}
	if r.format == "raw" {
		if r.enc.format != "luks" {
			return "", nil, nil, errStorage(virerr.ErrInternalError, "%s", "Only luks encryption is supported for raw files")
		}
		typ = "luks"
	}
	switch r.format {
	case "raw", "qcow2":
		if r.enc.format != "luks" {
			return "", nil, nil, errStorage(virerr.ErrConfigUnsupported, "unsupported volume encryption format %d", encFormatNum(r.enc.format))
		}
	default:
		return "", nil, nil, errStorage(virerr.ErrConfigUnsupported, "volume encryption unsupported with format %s", typ)
	}
	alias := r.name + "_encrypt0"
	object = []string{"--object", "secret,id=" + alias + ",file=" + strings.ReplaceAll(secretPath, ",", ",,")}
	if r.format == "qcow2" {
		opts = []string{"encrypt.format=luks", "encrypt.key-secret=" + alias}
	} else {
		opts = []string{"key-secret=" + alias}
	}
	return typ, object, opts, nil
}

// encFormatNum is virStorageEncryptionFormatType's value of a format.
func encFormatNum(f string) int {
	return map[string]int{"default": 0, "qcow": 1, "luks": 2, "luks2": 3}[f]
}
