package storagepool

import (
	"fmt"
	"strings"

	"govirt/virerr"
)

// virConnectGetStoragePoolCapabilities as libvirt 9.0's storage driver
// writes it (virStoragePoolCapsFormat): every pool type libvirt knows, in
// its order, supported='yes' for the ones with a backend here, each with
// the pool source and volume target formats of libvirt's poolTypeInfo
// table whatever the support.

// fileVolFormats are virStorageFileFormat's names (the volume formats of
// the file-based pool types).
var fileVolFormats = []string{"none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
	"ploop", "cow", "qcow", "qcow2", "qed", "vmdk"}

type capsOptions struct {
	dflt    string
	formats []string
}

type poolCapsType struct {
	name      string
	pool, vol *capsOptions
}

var fileVols = &capsOptions{"raw", fileVolFormats}

var poolCapsTypes = []poolCapsType{
	{"dir", nil, fileVols},
	{"fs", &capsOptions{"auto", []string{"auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2",
		"vfat", "hfs+", "xfs", "ocfs2", "vmfs"}}, fileVols},
	{"netfs", &capsOptions{"auto", []string{"auto", "nfs", "glusterfs", "cifs"}}, fileVols},
	{"logical", &capsOptions{"lvm2", []string{"unknown", "lvm2"}}, nil},
	{"disk", &capsOptions{"unknown", []string{"unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2"}},
		&capsOptions{"none", []string{"none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid", "extended"}}},
	{"iscsi", nil, nil},
	{"iscsi-direct", nil, nil},
	{"scsi", nil, nil},
	{"mpath", nil, nil},
	{"rbd", nil, &capsOptions{"raw", nil}},
	{"sheepdog", nil, nil},
	{"gluster", nil, fileVols},
	{"zfs", nil, nil},
	{"vstorage", nil, fileVols},
}

// ConnectGetStoragePoolCapabilities implements driver.StoragePoolCapser.
func (m *Manager) ConnectGetStoragePoolCapabilities(flags uint32) (string, error) {
	if flags != 0 {
		return "", virerr.Raw(virerr.FromStorage, virerr.ErrInvalidArg,
			fmt.Sprintf("unsupported flags (0x%x) in function storageConnectGetStoragePoolCapabilities", flags))
	}
	return poolCapsXML(), nil
}

func poolCapsXML() string {
	var b strings.Builder
	b.WriteString("<storagepoolCapabilities>\n")
	opts := func(elem, enum string, o *capsOptions) {
		fmt.Fprintf(&b, "    <%s>\n      <defaultFormat type='%s'/>\n      <enum name='%s'>\n", elem, o.dflt, enum)
		for _, f := range o.formats {
			fmt.Fprintf(&b, "        <value>%s</value>\n", f)
		}
		fmt.Fprintf(&b, "      </enum>\n    </%s>\n", elem)
	}
	for _, t := range poolCapsTypes {
		sup := "no"
		if backendFor(t.name) != nil {
			sup = "yes"
		}
		fmt.Fprintf(&b, "  <pool type='%s' supported='%s'>\n", t.name, sup)
		if t.pool != nil {
			opts("poolOptions", "sourceFormatType", t.pool)
		}
		if t.vol != nil {
			opts("volOptions", "targetFormatType", t.vol)
		}
		b.WriteString("  </pool>\n")
	}
	b.WriteString("</storagepoolCapabilities>\n")
	return b.String()
}
