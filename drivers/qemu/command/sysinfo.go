package command

import (
	"crypto/rand"
	"fmt"
	"strings"

	"govirt/conf"
)

// -smbios from <sysinfo type='smbios'> as <os><smbios mode=''> asks
// (qemuBuildSmbiosCommandLine), -fw_cfg from <sysinfo type='fwcfg'>
// (qemuBuildSysinfoCommandLine) and the vmgenid device of <genid>.

// smbiosFields are the entries of each table in libvirt's order.
var smbiosFields = map[string][]string{
	"bios":      {"vendor", "version", "date", "release"},
	"system":    {"manufacturer", "product", "version", "serial", "uuid", "sku", "family"},
	"baseBoard": {"manufacturer", "product", "version", "serial", "asset", "location"},
	"chassis":   {"manufacturer", "version", "serial", "asset", "sku"},
}

func entries(e *conf.Element) map[string]string {
	m := map[string]string{}
	for _, en := range children(e, "entry") {
		if v := en.Text(); v != "" {
			m[attr(en, "name")] = v
		}
	}
	return m
}

func (b *builder) emitSysinfo() error {
	t := b.tree()
	mode := attr(child(t, "os", "smbios"), "mode")
	var smbios *conf.Element
	for _, si := range t.Children("sysinfo") {
		switch typ := attr(si, "type"); typ {
		case "smbios":
			if smbios == nil {
				smbios = si
			}
		case "fwcfg":
		default:
			return unsupportedValue("sysinfo", "type", typ)
		}
	}
	switch mode {
	case "", "emulate":
	case "host":
		return unsupported("Host SMBIOS information is not available")
	case "sysinfo":
		if smbios == nil {
			return xmlError("Domain '%s' sysinfo are not available", b.def.Name)
		}
		if err := b.emitSmbios(smbios); err != nil {
			return err
		}
	default:
		return unsupportedValue("os/smbios", "mode", mode)
	}
	for _, si := range t.Children("sysinfo") {
		if attr(si, "type") != "fwcfg" {
			continue
		}
		for _, en := range si.Children("entry") {
			s := "name=" + attr(en, "name")
			if f := attr(en, "file"); f != "" && en.Text() == "" {
				s += ",file=" + f
			} else {
				s += ",string=" + en.Text()
			}
			b.add("-fw_cfg", s)
		}
	}
	return b.emitGenID()
}

func (b *builder) emitSmbios(si *conf.Element) error {
	table := func(typ int, fields []string, vals map[string]string, always ...string) string {
		s := fmt.Sprintf("type=%d", typ)
		for _, f := range fields {
			if v, ok := vals[f]; ok || contains(always, f) {
				s += "," + f + "=" + escapeComma(v)
			}
		}
		return s
	}
	if bios := child(si, "bios"); bios != nil {
		if v := entries(bios); len(v) > 0 {
			b.add("-smbios", table(0, smbiosFields["bios"], v))
		}
	}
	if sys := child(si, "system"); sys != nil {
		v := entries(sys)
		if u, ok := v["uuid"]; ok && !strings.EqualFold(u, b.def.UUID.String()) {
			return xmlError("UUID mismatch between <uuid> and <sysinfo>")
		}
		// qemuBuildSmbiosSystemStr skips a table holding nothing but a
		// SKU (sic).
		onlySKU := len(v) == 1 && v["sku"] != ""
		if len(v) > 0 && !onlySKU {
			b.add("-smbios", table(1, smbiosFields["system"], v))
		}
	}
	// A <baseBoard> without any entry is dropped when libvirt parses
	// the definition (virSysinfoBaseBoardParseXML), so it neither makes
	// a type 2 table nor counts as one (KubeVirt writes an empty one).
	var boards []*conf.Element
	for _, bb := range si.Children("baseBoard") {
		if len(entries(bb)) > 0 {
			boards = append(boards, bb)
		}
	}
	if len(boards) > 1 {
		return unsupported("qemu does not support more than one entry to Type 2 in SMBIOS table")
	}
	for _, bb := range boards {
		b.add("-smbios", table(2, smbiosFields["baseBoard"], entries(bb), "manufacturer"))
	}
	if ch := child(si, "chassis"); ch != nil {
		if v := entries(ch); len(v) > 0 {
			b.add("-smbios", table(3, smbiosFields["chassis"], v, "manufacturer"))
		}
	}
	if oem := child(si, "oemStrings"); oem != nil {
		s := "type=11"
		for _, e := range oem.Children("entry") {
			s += ",value=" + escapeComma(e.Text())
		}
		b.add("-smbios", s)
	}
	return nil
}

// emitGenID adds the VM generation ID device; a <genid/> without a value
// gets a new one, recorded in the live definition.
func (b *builder) emitGenID() error {
	if child(b.tree(), "genid") == nil {
		return nil
	}
	if !b.caps.Has("vmgenid") && b.knowsTypes() {
		return unsupported("this QEMU does not support the 'genid' capability")
	}
	if b.def.GenID == "" {
		if b.p.Host != nil && b.p.Host.NewUUID != nil {
			b.def.GenID = b.p.Host.NewUUID()
		} else {
			var u [16]byte
			if _, err := rand.Read(u[:]); err != nil {
				return internalError("Failed to generate genid")
			}
			u[6] = u[6]&0x0f | 0x40
			u[8] = u[8]&0x3f | 0x80
			b.def.GenID = fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
		}
	}
	b.device(obj{}.set("driver", "vmgenid").set("guid", b.def.GenID).set("id", "vmgenid0"))
	return nil
}

// emitVMCoreInfo adds the vmcoreinfo device of <features><vmcoreinfo>.
func (b *builder) emitVMCoreInfo() error {
	st, err := b.featureState("vmcoreinfo")
	if err != nil || st != "on" {
		return err
	}
	if !b.caps.Has("vmcoreinfo") && b.knowsTypes() {
		return unsupported("vmcoreinfo is not available with this QEMU binary")
	}
	b.device(obj{}.set("driver", "vmcoreinfo"))
	return nil
}
