package command

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// TestHotplugEncryptedDisk: a LUKS qcow2 disk hot-plugs; its secret
// object carries the passphrase encrypted with the master key (it
// decrypts back), its format node names the object, and the unplug
// deletes the same id.
func TestHotplugEncryptedDisk(t *testing.T) {
	def := loadDomain(t, "testdata/disk-raw-virtio.xml", goldenDir)
	if _, err := Build(def, qemu72(), goldenPaths("hp")); err != nil {
		t.Fatal(err)
	}
	disk := parseDisk(t, `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='/img/enc.qcow2'><encryption format='luks'><secret type='passphrase' uuid='5e1e7c3a-0000-4000-8000-00000000c001'/></encryption></source>
<target dev='vdc' bus='virtio'/></disk>`)
	if err := PrepareHotplugDisk(def, disk, qemu72(), counterFrom(10)); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	var asked SecretRef
	objs, err := DiskSecretObjects(disk, func(r SecretRef) ([]byte, error) { asked = r; return []byte("pass phrase"), nil }, key)
	if err != nil {
		t.Fatal(err)
	}
	if asked.UUID != "5e1e7c3a-0000-4000-8000-00000000c001" || asked.UsageType != "volume" || len(objs) != 1 {
		t.Fatalf("asked %+v, objects %s", asked, objs)
	}
	var o struct {
		QomType string `json:"qom-type"`
		ID      string `json:"id"`
		Data    string `json:"data"`
		KeyID   string `json:"keyid"`
		IV      string `json:"iv"`
	}
	if err := json.Unmarshal(objs[0], &o); err != nil {
		t.Fatal(err)
	}
	if o.QomType != "secret" || o.KeyID != "masterKey0" || o.ID != "libvirt-11-format-encryption-secret0" {
		t.Fatalf("%s", objs[0])
	}
	ct, _ := base64.StdEncoding.DecodeString(o.Data)
	iv, _ := base64.StdEncoding.DecodeString(o.IV)
	block, _ := aes.NewCipher(key)
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	if string(pt[:len(pt)-int(pt[len(pt)-1])]) != "pass phrase" {
		t.Fatalf("decrypts to %q", pt)
	}
	var nodes []string
	for _, n := range DiskBlockdevs(disk) {
		nodes = append(nodes, string(n))
	}
	if !strings.Contains(strings.Join(nodes, "\n"), `"encrypt":{"format":"luks","key-secret":"libvirt-11-format-encryption-secret0"}`) {
		t.Errorf("format node:\n%s", strings.Join(nodes, "\n"))
	}
	if ids := DiskSecretIDs(disk); len(ids) != 1 || ids[0] != o.ID {
		t.Errorf("ids %v", ids)
	}
	// A medium change still refuses encrypted media.
	cd := parseDisk(t, `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>
<source file='/img/enc.iso'><encryption format='luks'><secret type='passphrase' uuid='5e1e7c3a-0000-4000-8000-00000000c001'/></encryption></source>
<target dev='sdc' bus='sata'/></disk>`)
	if err := CheckMedium(cd); err == nil {
		t.Error("encrypted medium accepted")
	}
}
