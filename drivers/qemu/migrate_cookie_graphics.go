package qemu

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"encoding/xml"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// The graphics part of the migration cookie (libvirt's
// QEMU_MIGRATION_COOKIE_GRAPHICS), for SPICE's seamless migration: the
// destination's Prepare tells where its QEMU's SPICE server listens
// (type, port, listen address, TLS port and the subject of its
// certificate), the source hands that to its QEMU (client_migrate_info),
// whose SPICE server sends it to the connected clients so they reconnect
// to the destination by themselves, and Confirm waits for QEMU's
// SPICE_MIGRATE_COMPLETED before stopping the source's QEMU. Only the
// first SPICE display listening on an address or network is described;
// VNC has no relocation in QEMU.

// migParamGraphicsURI is VIR_MIGRATE_PARAM_GRAPHICS_URI (virsh migrate
// --graphicsuri): where clients reconnect, overriding the cookie.
const migParamGraphicsURI = "graphics_uri"

// spiceDoneWait bounds Confirm's wait for SPICE_MIGRATE_COMPLETED
// (libvirt waits until the event or an abort; QEMU sends it at once when
// no client is connected).
const spiceDoneWait = 30 * time.Second

type cookieGraphicsCert struct {
	Info  string `xml:"info,attr"`
	Value string `xml:"value,attr"`
}

// cookieGraphics is the <graphics> element; numbers are kept as sent so
// that a missing one is told from 0, as libvirt's XPath reads.
type cookieGraphics struct {
	Type    string               `xml:"type,attr"`
	Port    string               `xml:"port,attr"`
	Listen  *string              `xml:"listen,attr"`
	TLSPort string               `xml:"tlsPort,attr"`
	Certs   []cookieGraphicsCert `xml:"cert"`
}

// graphicsTypes are libvirt's virDomainGraphicsType names.
var graphicsTypes = map[string]bool{"sdl": true, "vnc": true, "rdp": true, "desktop": true, "spice": true, "egl-headless": true, "dbus": true}

// relocation is what the source's QEMU is told (qemuMigrationSrcGraphicsRelocate).
type relocation struct {
	typ, host, subject string
	port, tlsPort      int
}

// parse checks the element as qemuMigrationCookieGraphicsXMLParse.
func (g *cookieGraphics) parse() (relocation, error) {
	var r relocation
	bad := func(what string) (relocation, error) {
		return r, errQEMU(virerr.ErrInternalError, "missing %s attribute in migration data", what)
	}
	if g.Type == "" {
		return bad("type")
	}
	if !graphicsTypes[g.Type] {
		return r, errQEMU(virerr.ErrInternalError, "unknown graphics type %s", g.Type)
	}
	r.typ = g.Type
	var err error
	if r.port, err = strconv.Atoi(strings.TrimSpace(g.Port)); err != nil {
		return bad("port")
	}
	r.tlsPort = -1
	if g.Type == "spice" {
		if r.tlsPort, err = strconv.Atoi(strings.TrimSpace(g.TLSPort)); err != nil {
			return bad("tlsPort")
		}
	}
	if g.Listen == nil {
		return bad("listen")
	}
	r.host = *g.Listen
	for _, c := range g.Certs {
		if c.Info == "subject" {
			r.subject = c.Value
			break
		}
	}
	return r, nil
}

// cookieGraphicsFor is the destination's <graphics> for v once its QEMU
// listens (qemuMigrationCookieAddGraphics); nil without a SPICE display
// on an address or network listen.
func (d *Driver) cookieGraphicsFor(v *vm) ([]byte, error) {
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	if live == nil {
		return nil, nil
	}
	cfg := d.cfg.Graphics
	for _, g := range live.Devices.Graphics {
		if g.Type != "spice" {
			continue
		}
		l := conf.DeviceElement(g).Child("listen")
		if l == nil {
			return nil, errQEMU(virerr.ErrInternalError, "%s", "missing listen element")
		}
		if typ, _ := l.Attr("type"); typ != "address" && typ != "network" {
			continue
		}
		addr, _ := l.Attr("address")
		if addr == "" {
			if addr = cfg.SpiceListen; addr == "" {
				addr = "127.0.0.1"
			}
		}
		cg := cookieGraphics{Type: "spice", Port: strconv.Itoa(g.Port), Listen: &addr, TLSPort: "-1"}
		if cfg.SpiceTLS {
			cg.TLSPort = strconv.Itoa(g.TLSPort)
			dir := cfg.SpiceTLSx509CertDir
			if dir == "" {
				dir = "/etc/pki/libvirt-spice"
			}
			subject, err := certSubject(filepath.Join(dir, "server-cert.pem"))
			if err != nil {
				return nil, err
			}
			cg.Certs = []cookieGraphicsCert{{"subject", subject}}
		}
		return xml.Marshal(struct {
			XMLName xml.Name `xml:"graphics"`
			cookieGraphics
		}{cookieGraphics: cg})
	}
	return nil, nil
}

// certSubject is the distinguished name of a PEM certificate as GnuTLS's
// gnutls_x509_crt_get_dn writes it (RFC 4514: most specific first).
func certSubject(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", errQEMU(virerr.ErrInternalError, "unable to read server cert %s", path)
	}
	blk, _ := pem.Decode(b)
	var cert *x509.Certificate
	if blk != nil {
		cert, err = x509.ParseCertificate(blk.Bytes)
	}
	if blk == nil || err != nil {
		return "", errQEMU(virerr.ErrInternalError, "cannot load cert data from %s: %s", path, "Base64 decoding error.")
	}
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &rdn); err != nil {
		return "", errQEMU(virerr.ErrInternalError, "cannot get cert distinguished name: %v", err)
	}
	return rdn.String(), nil
}

// relocateGraphics tells the source's QEMU where the destination's SPICE
// server is, from Prepare's cookie and --graphicsuri, before the memory
// moves. A malformed <graphics> fails the migration as libvirt's cookie
// parse; a failed relocation is only logged, as libvirt only warns.
func (d *Driver) relocateGraphics(ctx context.Context, v *vm, m *migration, cookieIn []byte, params []driver.TypedParam) error {
	ck, err := parseCookie(cookieIn)
	if err != nil {
		return nil // the steps that need the cookie report it
	}
	guri := migParam(params, migParamGraphicsURI)
	if ck.Graphics == nil && guri == "" {
		return nil
	}
	r := relocation{port: -1, tlsPort: -1}
	if ck.Graphics != nil {
		if r, err = ck.Graphics.parse(); err != nil {
			return err
		}
		if ip := net.ParseIP(r.host); r.host == "" || (ip != nil && ip.IsUnspecified()) {
			r.host = ck.Hostname
		}
	}
	if guri != "" {
		if err := r.override(guri); err != nil {
			d.log.Warn("unable to provide data for graphics client relocation", "domain", v.name, "err", err)
			return nil
		}
	}
	if r.typ != "spice" || (r.port <= 0 && r.tlsPort <= 0) {
		return nil // QEMU cannot relocate VNC clients
	}
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	if mon == nil {
		return nil
	}
	args := map[string]any{"protocol": "spice", "hostname": r.host, "port": r.port, "tls-port": r.tlsPort}
	if r.subject != "" {
		args["cert-subject"] = r.subject
	}
	if err := mon.Execute(ctx, "client_migrate_info", args, nil); err != nil {
		d.log.Warn("unable to provide data for graphics client relocation", "domain", v.name, "err", err)
		return nil
	}
	d.log.Info("SPICE clients told where the destination listens", "domain", v.name, "host", r.host, "port", r.port, "tlsPort", r.tlsPort)
	v.mu.Lock()
	m.spiceDone = make(chan struct{})
	v.mu.Unlock()
	return nil
}

// override applies --graphicsuri (TYPE://HOST[:PORT][?tlsPort=N&tlsSubject=S]).
func (r *relocation) override(guri string) error {
	u, err := url.Parse(guri)
	if err != nil || u.Scheme == "" {
		return virerr.New(virerr.FromURI, virerr.ErrInternalError, "Unable to parse URI %s", guri)
	}
	if !graphicsTypes[u.Scheme] {
		return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unknown graphics type %s", u.Scheme)
	}
	r.typ = u.Scheme
	if h := u.Hostname(); h != "" {
		r.host = h
	}
	if p, err := strconv.Atoi(u.Port()); err == nil && p > 0 {
		r.port = p
	}
	for name, vals := range u.Query() {
		val := vals[len(vals)-1]
		switch strings.ToLower(name) {
		case "tlsport":
			n, err := strconv.Atoi(val)
			if err != nil {
				return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "invalid tlsPort number: %s", val)
			}
			r.tlsPort = n
		case "tlssubject":
			r.subject = val
		}
	}
	return nil
}

// spiceMigrated is QEMU's SPICE_MIGRATE_COMPLETED: the SPICE clients of
// an outgoing migration moved.
func (d *Driver) spiceMigrated(v *vm) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m := v.mig; m != nil && !m.Incoming && m.spiceDone != nil && !m.spiceClosed {
		close(m.spiceDone)
		m.spiceClosed = true
	}
}

// waitSpice holds Confirm until QEMU's SPICE server handed its clients
// over (qemuMigrationSrcWaitForSpice), when it was told to.
func (d *Driver) waitSpice(v *vm, m *migration) {
	v.mu.Lock()
	ch := m.spiceDone
	v.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-time.After(spiceDoneWait):
		d.log.Warn("no SPICE_MIGRATE_COMPLETED from QEMU", "domain", v.name)
	}
}

// withCookieElem inserts an element before the end of a cookie made by
// makeCookie (NUL-terminated).
func withCookieElem(cookie, elem []byte) []byte {
	end := []byte("</qemu-migration>")
	i := strings.LastIndex(string(cookie), string(end))
	if i < 0 || len(elem) == 0 {
		return cookie
	}
	out := append([]byte{}, cookie[:i]...)
	out = append(append(out, elem...), '\n')
	return append(out, cookie[i:]...)
}
