package storagepool

import (
	"regexp"
	"strconv"
	"strings"

	"govirt/virerr"
)

// Parsers for the reports of vgs, lvs and pvs, run with the options
// libvirt's logical backend uses. They follow virCommandRunRegex: the
// output is split into lines, a leading command name is skipped, lines
// the pattern does not match are ignored and each matching line is
// handled in order. The patterns are libvirt's, and Go's regexp picks the
// same submatches a backtracking engine does, so odd names (an LV whose
// name holds '#') split the same way.

// lvsFields is the --options list of lvs: the regex below expects them in
// this order.
const lvsFields = "lv_name,origin,uuid,devices,segtype,stripes,seg_size,vg_extent_size,size,lv_attr"

var (
	vgsLine = regexp.MustCompile(`^\s*(\S+):([0-9]+):?\s*$`)
	pvsLine = regexp.MustCompile(`^\s*(\S+)\s+(\S+)\s*$`)
	lvsLine = regexp.MustCompile(`^\s*(\S+)#(\S*)#(\S+)#(\S+)#(\S+)#([0-9]+)#(\S+)#([0-9]+)#([0-9]+)#(\S+)#?\s*$`)
)

const (
	extentUnit     = `(\S+)\((\S+)\)`
	maxExtentUnits = 1024
)

// reportLines returns the submatches of each line of out that re matches,
// after removing a leading prefix as virCommandRunRegex does.
func reportLines(out, prefix string, re *regexp.Regexp) [][]string {
	var rows [][]string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimPrefix(line, prefix)
		if m := re.FindStringSubmatch(line); m != nil {
			rows = append(rows, m[1:])
		}
	}
	return rows
}

// vgSizes is a volume group's size and free space in bytes.
type vgSizes struct {
	capacity, free uint64
}

// parseVGS reads `vgs --separator : --noheadings --units b --unbuffered
// --nosuffix --options vg_size,vg_free VG`. The last matching line wins;
// found is false when no line matched (libvirt then keeps the old sizes).
func parseVGS(out string) (sz vgSizes, found bool, err error) {
	for _, g := range reportLines(out, "vgs", vgsLine) {
		c, err1 := strconv.ParseUint(g[0], 10, 64)
		f, err2 := strconv.ParseUint(g[1], 10, 64)
		if err1 != nil || err2 != nil {
			return vgSizes{}, false, errStorage(virerr.ErrInternalError, "malformed vgs output line '%s:%s'", g[0], g[1])
		}
		sz, found = vgSizes{capacity: c, free: f}, true
	}
	return sz, found, nil
}

// pvSource is one volume group as pvs lists it: its name and physical
// volumes in the order pvs printed them.
type pvSource struct {
	vg      string
	devices []string
}

// parsePVS reads `pvs --noheadings -o pv_name,vg_name`. Physical volumes
// in no volume group print one column and are skipped.
func parsePVS(out string) []pvSource {
	var srcs []pvSource
	idx := map[string]int{}
	for _, g := range reportLines(out, "pvs", pvsLine) {
		i, ok := idx[g[1]]
		if !ok {
			i = len(srcs)
			idx[g[1]] = i
			srcs = append(srcs, pvSource{vg: g[1]})
		}
		srcs[i].devices = append(srcs[i].devices, g[0])
	}
	return srcs
}

// extent is the part of a physical volume a logical volume segment uses,
// in bytes.
type extent struct {
	path       string
	start, end uint64
}

// lvInfo is one active logical volume from lvs.
type lvInfo struct {
	name    string
	uuid    string
	origin  string // snapshot origin; "" for none (or LVM's internal [x_vorigin])
	sparse  bool   // created with --virtualsize (attribute 's')
	size    uint64 // bytes, libvirt's allocation
	extents []extent
}

// parseLVS reads the report of
//
//	lvs --separator # --noheadings --units b --unbuffered --nosuffix
//	    --options lv_name,origin,uuid,devices,segtype,stripes,seg_size,vg_extent_size,size,lv_attr VG
//
// as virStorageBackendLogicalMakeVol: inactive volumes and thin pools are
// skipped, a volume with several segments prints several rows whose
// extents add up, and malformed numbers are errors.
func parseLVS(out string) ([]*lvInfo, error) {
	var lvs []*lvInfo
	byName := map[string]*lvInfo{}
	for _, g := range reportLines(out, "lvs", lvsLine) {
		attrs := g[9]
		if len(attrs) < 5 || attrs[4] != 'a' || attrs[0] == 't' {
			continue
		}
		lv := byName[g[0]]
		if lv == nil {
			lv = &lvInfo{name: g[0], uuid: g[2]}
			byName[g[0]] = lv
			lvs = append(lvs, lv)
		}
		if attrs[0] == 's' {
			lv.sparse = true
		}
		if g[1] != "" && g[1][0] != '[' {
			lv.origin = g[1]
		}
		size, err := strconv.ParseUint(g[8], 10, 64)
		if err != nil {
			return nil, errStorage(virerr.ErrInternalError, "%s", "malformed volume allocation value")
		}
		lv.size = size
		exts, err := parseExtents(g)
		if err != nil {
			return nil, err
		}
		lv.extents = append(lv.extents, exts...)
	}
	return lvs, nil
}

// parseExtents is virStorageBackendLogicalParseVolExtents for one lvs row:
// striped, mirror and raid segments list as many "path(offset)" devices as
// they have stripes, others one. Every extent of a row spans the whole
// segment length, as in libvirt.
func parseExtents(g []string) ([]extent, error) {
	segtype, devices := g[4], g[3]
	n := 1
	if segtype == "striped" || segtype == "mirror" || strings.HasPrefix(segtype, "raid") {
		v, err := strconv.ParseInt(g[5], 10, 32)
		if err != nil {
			return nil, errStorage(virerr.ErrInternalError, "%s", "malformed volume extent stripes value")
		}
		n = int(v)
	}
	length, err := strconv.ParseUint(g[6], 10, 64)
	if err != nil {
		return nil, errStorage(virerr.ErrInternalError, "%s", "malformed volume extent length value")
	}
	size, err := strconv.ParseUint(g[7], 10, 64)
	if err != nil {
		return nil, errStorage(virerr.ErrInternalError, "%s", "malformed volume extent size value")
	}
	units := max(n, 1)
	// Each unit needs its own "(": more units than that cannot match, and
	// not building their pattern keeps a bogus stripe count cheap. LVM
	// itself stops far below maxExtentUnits.
	if units > strings.Count(devices, "(") || units > maxExtentUnits {
		return nil, errStorage(virerr.ErrInternalError, "%s", "malformed volume extent devices value")
	}
	re, err := regexp.Compile(extentUnit + strings.Repeat(","+extentUnit, units-1))
	if err != nil {
		return nil, errStorage(virerr.ErrInternalError, "Failed to compile regex %s", err)
	}
	m := re.FindStringSubmatch(devices)
	if m == nil {
		return nil, errStorage(virerr.ErrInternalError, "%s", "malformed volume extent devices value")
	}
	exts := make([]extent, 0, n)
	for i := 0; i < n; i++ {
		off, err := strconv.ParseUint(m[2*i+2], 10, 64)
		if err != nil {
			return nil, errStorage(virerr.ErrInternalError, "%s", "malformed volume extent offset value")
		}
		start := off * size
		exts = append(exts, extent{path: m[2*i+1], start: start, end: start + length})
	}
	return exts, nil
}
