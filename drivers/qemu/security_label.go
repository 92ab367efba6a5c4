package qemu

import (
	"fmt"

	"govirt/conf"
	"govirt/virerr"
)

// guestSeclabel is a guest's <seclabel model='dac'> (libvirt's
// virSecurityLabelDef for the DAC driver).
type guestSeclabel struct {
	present  bool   // the guest wrote one
	typ      string // dynamic, static, none
	relabel  bool
	set      bool // a static <label>: QEMU runs as it
	uid, gid int
	imgSet   bool // <imagelabel>: the files get it
	imgUID   int
	imgGID   int
}

// parseGuestSeclabel reads the guest's DAC seclabel. A seclabel of another
// model names a security driver govirt does not have: refused as libvirt
// refuses a model the host's daemon lacks.
func parseGuestSeclabel(def *conf.Domain) (guestSeclabel, error) {
	g := guestSeclabel{typ: "dynamic", relabel: true}
	for _, e := range def.Tree().Children("seclabel") {
		model, _ := e.Attr("model")
		typ, _ := e.Attr("type")
		if model != "" && model != "dac" {
			if typ == "none" {
				continue
			}
			return g, errQEMU(virerr.ErrConfigUnsupported, "Security driver model '%s' is not available", model)
		}
		if model == "" && typ != "none" {
			// A model-less label goes to the primary driver, which
			// here is DAC.
			model = "dac"
		}
		g.present = true
		if typ == "" {
			typ = "dynamic"
		}
		g.typ = typ
		rl, hasRelabel := e.Attr("relabel")
		switch typ {
		case "none":
			g.relabel = false
		case "static":
			g.relabel = rl == "yes"
		case "dynamic":
			if hasRelabel && rl == "no" {
				return g, errQEMU(virerr.ErrXMLError, "dynamic label type must use resource relabeling")
			}
			g.relabel = true
		default:
			return g, errQEMU(virerr.ErrXMLError, "invalid security type '%s'", typ)
		}
		if l := e.Child("label"); l != nil && typ == "static" {
			uid, gid, err := parseOwnerLabel(l.Text())
			if err != nil {
				return g, errQEMU(virerr.ErrInvalidArg, "%v", err)
			}
			g.set, g.uid, g.gid = true, uid, gid
			g.imgSet, g.imgUID, g.imgGID = true, uid, gid
		} else if typ == "static" {
			return g, errQEMU(virerr.ErrXMLError, "security label is missing")
		}
		if l := e.Child("imagelabel"); l != nil && typ == "static" {
			uid, gid, err := parseOwnerLabel(l.Text())
			if err != nil {
				return g, errQEMU(virerr.ErrInvalidArg, "%v", err)
			}
			g.imgSet, g.imgUID, g.imgGID = true, uid, gid
		}
	}
	return g, nil
}

// imageIDs is the owner the guest's files get (virSecurityDACGetImageIds).
func (s *secDriver) imageIDs(g guestSeclabel) (int, int) {
	if g.imgSet {
		return g.imgUID, g.imgGID
	}
	return s.uid, s.gid
}

// liveSeclabel is the <seclabel> libvirtd writes into a running guest's
// XML for the DAC driver.
func (s *secDriver) liveSeclabel(g guestSeclabel) []byte {
	uid, gid := s.uid, s.gid
	if g.set {
		uid, gid = g.uid, g.gid
	}
	iu, ig := s.imageIDs(g)
	switch {
	case g.typ == "none":
		return []byte(`<seclabel type='none' model='dac'/>`)
	case !g.relabel:
		return []byte(fmt.Sprintf(`<seclabel type='%s' model='dac' relabel='no'><label>%s</label></seclabel>`, g.typ, ownerLabel(uid, gid)))
	}
	return []byte(fmt.Sprintf(`<seclabel type='%s' model='dac' relabel='yes'><label>%s</label><imagelabel>%s</imagelabel></seclabel>`,
		g.typ, ownerLabel(uid, gid), ownerLabel(iu, ig)))
}

// imageSeclabel is a disk image's own <seclabel model='dac'> (in its
// <source>): relabel='no' leaves the file alone, a <label> gives it
// that owner instead of the guest's.
type imageSeclabel struct {
	present  bool
	relabel  bool
	set      bool
	uid, gid int
}

// diskSeclabels returns the seclabel of each image of disk's chain, top
// first (index 0 is the disk's <source>, then each <backingStore>).
func diskSeclabels(disk *conf.Disk) []imageSeclabel {
	var out []imageSeclabel
	e := disk.Tree()
	for e != nil {
		var l imageSeclabel
		if src := e.Child("source"); src != nil {
			for _, s := range src.Children("seclabel") {
				if m, _ := s.Attr("model"); m != "" && m != "dac" {
					continue
				}
				l.present, l.relabel = true, true
				if rl, _ := s.Attr("relabel"); rl == "no" {
					l.relabel = false
				}
				if lab := s.Child("label"); lab != nil {
					if uid, gid, err := parseOwnerLabel(lab.Text()); err == nil {
						l.set, l.uid, l.gid = true, uid, gid
					}
				}
			}
		}
		out = append(out, l)
		e = e.Child("backingStore")
	}
	return out
}
