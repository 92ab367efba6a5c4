package storagepool

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Volume types (virStorageVolType).
const (
	volFile  = 0
	volBlock = 1
	volDir   = 2
)

// fileStat is what stat(2) says about a volume or its backing file.
type fileStat struct {
	path                string
	format              string
	perms               perms
	atime, mtime, ctime syscall.Timespec
}

// volStat is a volume as virStorageBackendUpdateVolTargetInfo sees it:
// capacity is the virtual size the image header declares (the file size
// for raw), allocation the blocks really used, physical the file size.
type volStat struct {
	typ        int32
	capacity   uint64
	allocation uint64
	physical   uint64
	target     fileStat
	backing    *fileStat
	extents    []extent // where a logical volume lies on its physical volumes
	// encFormat is the encryption the image header declares (luks for
	// a LUKS file or a qcow2 with LUKS, qcow for qcow's AES), enc what
	// the XML shows (volencrypt.go).
	encFormat string
	enc       *volEncryption
}

func statFile(path string) (fileStat, *syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileStat{}, nil, err
	}
	return fileStat{path: path, perms: perms{mode: int(st.Mode & 0o777), uid: int64(st.Uid), gid: int64(st.Gid)},
		atime: st.Atim, mtime: st.Mtim, ctime: st.Ctim}, &st, nil
}

// statVol reads a volume's file and header.
func (m *Manager) statVol(path string) (*volStat, error) {
	fs, st, err := statFile(path)
	if err != nil {
		return nil, errSys(err, "cannot stat file '%s'", path)
	}
	vs := &volStat{typ: volFile, target: fs, allocation: uint64(st.Blocks) * 512,
		capacity: uint64(st.Size), physical: uint64(st.Size)}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		// libvirt reports no sizes for directory volumes.
		vs.typ, vs.target.format = volDir, "dir"
		vs.capacity, vs.allocation, vs.physical = 0, 0, 0
		return vs, nil
	}
	vs.target.format = "raw"
	info, err := m.probe.probe(path)
	if err != nil {
		// An unreadable header is shown as raw, as libvirt does for
		// content it cannot recognise.
		m.log.Debug("probing volume failed", "path", path, "err", err)
		return vs, nil
	}
	if info.Format != "" {
		vs.target.format = info.Format
	}
	if info.Format != "raw" && info.VirtualSize > 0 {
		vs.capacity = info.VirtualSize
	}
	vs.encFormat = info.Encryption
	if info.Format == "raw" && info.Encryption == "luks" {
		// The LUKS payload is the volume (storageBackendProbeTarget).
		vs.capacity -= min(vs.capacity, info.PayloadOffset)
	}
	if info.Backing != "" {
		bpath := info.Backing
		if !filepath.IsAbs(bpath) && !strings.Contains(bpath, ":") {
			bpath = filepath.Join(filepath.Dir(path), bpath)
		}
		b := fileStat{path: bpath, perms: noPerms, atime: noTime, mtime: noTime, ctime: noTime}
		if bs, _, err := statFile(bpath); err == nil {
			b = bs
		}
		b.format = info.BackingFormat
		if b.format == "" {
			b.format = "raw"
		}
		vs.backing = &b
	}
	return vs, nil
}

// noTime marks a timestamp that is not known (not printed).
var noTime = syscall.Timespec{Nsec: -1}

func writeTimestamp(b *strings.Builder, name string, ts syscall.Timespec) {
	if ts.Nsec < 0 {
		return
	}
	fmt.Fprintf(b, "      <%s>%d", name, ts.Sec)
	if ts.Nsec != 0 {
		fmt.Fprintf(b, ".%09d", ts.Nsec)
	}
	fmt.Fprintf(b, "</%s>\n", name)
}

// writeTarget is virStorageVolTargetDefFormat for <target> and
// <backingStore>. Linux has no birth time in stat(2): libvirt prints 0.
func writeTarget(b *strings.Builder, elem string, f *fileStat, enc *volEncryption) {
	fmt.Fprintf(b, "  <%s>\n", elem)
	fmt.Fprintf(b, "    <path>%s</path>\n", xmlEsc(f.path))
	if f.format != "" { // logical pools have no volume formats
		fmt.Fprintf(b, "    <format type='%s'/>\n", xmlEsc(f.format))
	}
	writePerms(b, "    ", f.perms)
	if f.mtime.Nsec >= 0 {
		b.WriteString("    <timestamps>\n")
		writeTimestamp(b, "atime", f.atime)
		writeTimestamp(b, "mtime", f.mtime)
		writeTimestamp(b, "ctime", f.ctime)
		writeTimestamp(b, "btime", syscall.Timespec{})
		b.WriteString("    </timestamps>\n")
	}
	if enc != nil {
		b.WriteString(enc.xml())
	}
	fmt.Fprintf(b, "  </%s>\n", elem)
}

var volTypeNames = map[int32]string{volFile: "file", volBlock: "block", volDir: "dir"}

// format writes the volume document as virStorageVolDefFormat.
func (vs *volStat) format(name, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<volume type='%s'>\n", volTypeNames[vs.typ])
	fmt.Fprintf(&b, "  <name>%s</name>\n", xmlEsc(name))
	fmt.Fprintf(&b, "  <key>%s</key>\n", xmlEsc(key))
	writeExtents(&b, vs.extents)
	fmt.Fprintf(&b, "  <capacity unit='bytes'>%d</capacity>\n", vs.capacity)
	fmt.Fprintf(&b, "  <allocation unit='bytes'>%d</allocation>\n", vs.allocation)
	if vs.physical != 0 {
		fmt.Fprintf(&b, "  <physical unit='bytes'>%d</physical>\n", vs.physical)
	}
	writeTarget(&b, "target", &vs.target, vs.enc)
	if vs.backing != nil {
		writeTarget(&b, "backingStore", vs.backing, nil)
	}
	b.WriteString("</volume>\n")
	return b.String()
}

// fileSize is the size stat(2) reports, 0 when the file is gone.
func fileSize(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return uint64(fi.Size())
}

// writeExtents is virStorageVolDefFormatSourceExtents: consecutive extents
// on the same device share one <device>; no extents, no <source>.
func writeExtents(b *strings.Builder, exts []extent) {
	if len(exts) == 0 {
		return
	}
	b.WriteString("  <source>\n")
	for i, e := range exts {
		if i == 0 || exts[i-1].path != e.path {
			if i > 0 {
				b.WriteString("    </device>\n")
			}
			fmt.Fprintf(b, "    <device path='%s'>\n", xmlEsc(e.path))
		}
		fmt.Fprintf(b, "      <extent start='%d' end='%d'/>\n", e.start, e.end)
	}
	b.WriteString("    </device>\n")
	b.WriteString("  </source>\n")
}
