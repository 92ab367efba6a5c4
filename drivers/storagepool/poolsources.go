package storagepool

import (
	"fmt"
	"strings"

	"govirt/virerr"
)

// FindStoragePoolSources is virConnectFindStoragePoolSources. Of govirt's
// pool types only logical ones can be discovered, as in libvirt: the
// volume groups pvs lists, each with its physical volumes (after a vgscan,
// whose failure does not matter).
func (m *Manager) FindStoragePoolSources(typ, _ string, flags uint32) (string, error) {
	idx := poolTypeIndex(typ)
	if idx < 0 {
		return "", errStorage(virerr.ErrInternalError, "unknown storage pool type %s", typ)
	}
	if backendFor(typ) == nil {
		return "", errStorage(virerr.ErrInternalError, "missing backend for pool type %d (%s)", idx, typ)
	}
	if typ != "logical" {
		return "", errStorage(virerr.ErrNoSupport, "pool type '%s' does not support source discovery", typ)
	}
	if flags != 0 {
		return "", errFlags(flags, "virStorageBackendLogicalFindPoolSources")
	}
	_, _ = lvmRun("vgscan")
	out, err := lvmRun("pvs", "--noheadings", "-o", "pv_name,vg_name")
	if err != nil {
		return "", err
	}
	return formatSources(parsePVS(out)), nil
}

// formatSources is virStoragePoolSourceListFormat for logical sources.
func formatSources(srcs []pvSource) string {
	var b strings.Builder
	b.WriteString("<sources>\n")
	for _, s := range srcs {
		b.WriteString("  <source>\n")
		for _, dev := range s.devices {
			fmt.Fprintf(&b, "    <device path='%s'/>\n", xmlEsc(dev))
		}
		fmt.Fprintf(&b, "    <name>%s</name>\n", xmlEsc(s.vg))
		b.WriteString("    <format type='lvm2'/>\n")
		b.WriteString("  </source>\n")
	}
	b.WriteString("</sources>\n")
	return b.String()
}
