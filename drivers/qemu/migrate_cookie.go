package qemu

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"

	"govirt/conf"
	"govirt/virerr"
)

// The migration cookie each step hands the next, in libvirt 9.0's own
// format (src/qemu/qemu_migration_cookie.c), so that a libvirtd on the
// other side reads ours and we read its:
//
//	<qemu-migration>
//	  <name>, <uuid>, <hostname>, <hostuuid>   who sends it (all required)
//	  <feature name='...'/>                     what the reader must understand
//	  <domain>...</domain>                      Perform's persistent definition
//	  <nbd port='...'><disk target capacity/></nbd>
//	  ... graphics, lockstate, statistics, cpu, capabilities: read as libvirt
//	      does where govirt needs them, otherwise ignored
//	</qemu-migration>
//
// govirt adds <govirt-peer>, its read-only socket (migrate_peer.go), which
// libvirt, reading cookies by XPath, ignores.

// cookieFeatures are libvirt's qemuMigrationCookieFlag names. A mandatory
// <feature> outside this list is refused as libvirt refuses it; the ones
// in it are either honoured (persistent, nbd) or carry nothing govirt must
// act on (lockstate of the "nop" lock manager, hotplug markers, which only
// demand a destination able to start the devices, which the start checks).
var cookieFeatures = map[string]bool{
	"graphics": true, "lockstate": true, "persistent": true, "network": true,
	"nbd": true, "statistics": true, "memory-hotplug": true, "cpu-hotplug": true,
	"cpu": true, "allowReboot": true, "capabilities": true, "block-dirty-bitmaps": true,
}

type cookieFeature struct {
	Name string `xml:"name,attr"`
}

// migCookie is a parsed or to-be-written <qemu-migration>.
type migCookie struct {
	XMLName  xml.Name        `xml:"qemu-migration"`
	Name     string          `xml:"name"`
	UUID     string          `xml:"uuid"`
	Hostname string          `xml:"hostname"`
	HostUUID string          `xml:"hostuuid"`
	Features []cookieFeature `xml:"feature"`
	// Graphics is the destination's SPICE server (migrate_cookie_graphics.go).
	Graphics *cookieGraphics `xml:"graphics,omitempty"`
	// Peer is the URI of the sending daemon's read-only socket, for a
	// restarted peer to ask where the guest ended up (migrate_peer.go).
	Peer string     `xml:"govirt-peer,omitempty"`
	NBD  *cookieNBD `xml:"nbd,omitempty"`
	// Stats is the completed migration's figures (migrate_cookie_stats.go).
	Stats *cookieStats `xml:"statistics,omitempty"`
	// OldPersistent is the <persistent> wrapper earlier govirt versions
	// wrote around the definition; read only.
	OldPersistent *struct {
		Inner string `xml:",innerxml"`
	} `xml:"persistent,omitempty"`

	// PersistentXML is the <domain> element, kept as its bytes (it is
	// not a cookie field but a whole definition, parsed by parseDef).
	PersistentXML string `xml:"-"`
	// CPUXML is the first <cpu> element, as sent (migrate_cookie_cpu.go).
	CPUXML string `xml:"-"`
}

func (d *Driver) makeCookie(v *vm, persistentXML string) []byte {
	return d.makeCookieNBD(v, persistentXML, nil)
}

// makeCookieNBD is makeCookie with the <nbd> element of a storage
// migration (migrate_nbd.go).
func (d *Driver) makeCookieNBD(v *vm, persistentXML string, nbd *cookieNBD) []byte {
	return d.makeCookieWith(v, persistentXML, nbd, nil)
}

// makeCookieWith is makeCookieNBD with the <statistics> element.
func (d *Driver) makeCookieWith(v *vm, persistentXML string, nbd *cookieNBD, stats *cookieStats) []byte {
	host, _ := os.Hostname()
	v.mu.Lock()
	c := migCookie{Name: v.name, UUID: v.uuid.String(), Hostname: host, HostUUID: d.hostUUID().String(), Peer: d.peerURI(), NBD: nbd, Stats: stats}
	v.mu.Unlock()
	if persistentXML != "" {
		// As qemuMigrationCookieAddPersistent: the definition is a
		// mandatory feature, so that a reader that cannot take it fails.
		c.Features = append(c.Features, cookieFeature{"persistent"})
	}
	out, _ := xml.Marshal(&c)
	if persistentXML != "" {
		end := []byte("</qemu-migration>")
		i := bytes.LastIndex(out, end)
		dom := bytes.TrimSpace([]byte(persistentXML))
		out = append(append(append(out[:i:i], dom...), '\n'), end...)
	}
	return append(out, 0) // libvirt's cookies are NUL-terminated strings
}

// parseCookie reads a cookie from either daemon. The checks are libvirt's
// (qemuMigrationCookieXMLParse): the sender's name, uuid, hostname and
// hostuuid must be there, and every mandatory feature known.
func parseCookie(b []byte) (*migCookie, error) {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	var c migCookie
	if len(bytes.TrimSpace(b)) == 0 {
		return &c, nil
	}
	if err := conf.CheckXML(b, virerr.FromQemu, "(qemu_migration_cookie)"); err != nil {
		return nil, err
	}
	if err := xml.Unmarshal(b, &c); err != nil {
		return nil, errQEMU(virerr.ErrInternalError, "invalid migration cookie: %v", err)
	}
	missing := func(what string) error {
		return errQEMU(virerr.ErrInternalError, "missing %s element in migration data", what)
	}
	switch {
	case c.Name == "":
		return nil, missing("name")
	case c.UUID == "":
		return nil, missing("uuid")
	case c.Hostname == "":
		return nil, missing("hostname")
	case c.HostUUID == "":
		return nil, missing("hostuuid")
	}
	for _, f := range c.Features {
		switch {
		case f.Name == "":
			return nil, errQEMU(virerr.ErrInternalError, "%s", "missing feature name")
		case !cookieFeatures[f.Name]:
			return nil, errQEMU(virerr.ErrInternalError, "Unknown migration cookie feature %s", f.Name)
		}
	}
	dom, err := cookieChild(b, "domain", true)
	if err != nil {
		return nil, err
	}
	if c.CPUXML, err = cookieChild(b, "cpu", false); err != nil {
		return nil, err
	}
	c.PersistentXML = dom
	if dom == "" && c.OldPersistent != nil {
		c.PersistentXML = c.OldPersistent.Inner
	}
	return &c, nil
}

// cookieChild returns the first child of the cookie named name as it was
// sent; only one may be there when single (<domain>).
func cookieChild(b []byte, name string, single bool) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth := 0
	found := ""
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return found, nil
		}
		if err != nil {
			return "", errQEMU(virerr.ErrInternalError, "invalid migration cookie: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 1 && t.Name.Local == name {
				if found != "" && single {
					return "", errQEMU(virerr.ErrInternalError, "Too many %s elements in migration cookie", name)
				}
				if err := dec.Skip(); err != nil {
					return "", errQEMU(virerr.ErrInternalError, "invalid migration cookie: %v", err)
				}
				if found == "" {
					found = string(b[off:dec.InputOffset()])
				}
				continue
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// checkCookieDomain is libvirt's check that a cookie is about the guest
// being migrated (name as the source calls it, and uuid).
func checkCookieDomain(c *migCookie, name, uuid string) error {
	if c.Name == "" {
		return nil // no cookie at all
	}
	if c.Name != name {
		return errQEMU(virerr.ErrInternalError, "Incoming cookie data had unexpected name %s vs %s", c.Name, name)
	}
	if c.UUID != uuid {
		return errQEMU(virerr.ErrInternalError, "Incoming cookie data had unexpected UUID %s vs %s", c.UUID, uuid)
	}
	return nil
}
