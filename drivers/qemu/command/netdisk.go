package command

import (
	"fmt"
	"net"
	"net/url"
	"os/user"
	"strconv"
	"strings"

	"govirt/conf"
)

// Network disk sources (<disk type='network'>): the protocol node
// qemu_block.c builds for each protocol.

// netHost is one <host> of a network source.
type netHost struct {
	name, socket, transport string
	port                    uint64
}

// defaultPorts are virStorageSourceNetworkDefaultPort's; rbd and nfs have
// none.
var defaultPorts = map[string]uint64{"http": 80, "https": 443, "ftp": 21, "ftps": 990,
	"tftp": 69, "nbd": 10809, "ssh": 22, "iscsi": 3260, "gluster": 24007}

func netHosts(src *conf.Element, protocol string) ([]netHost, error) {
	var out []netHost
	for _, h := range kids(src, "host") {
		n := netHost{name: attr(h, "name"), socket: attr(h, "socket"), transport: attr(h, "transport")}
		if n.transport == "" {
			n.transport = "tcp"
		}
		switch n.transport {
		case "tcp", "unix":
		case "rdma":
			return nil, unsupported("transport protocol '%s' is not yet supported", n.transport)
		default:
			return nil, unsupported("unknown protocol transport type '%s'", n.transport)
		}
		if n.transport == "unix" && n.socket == "" {
			return nil, xmlError("missing socket for unix transport")
		}
		if n.transport != "unix" && n.socket != "" {
			return nil, xmlError("transport '%s' does not support socket attribute", attr(h, "transport"))
		}
		if n.transport != "unix" {
			if n.name == "" {
				return nil, xmlError("missing name for host")
			}
			if p := attr(h, "port"); p != "" {
				v, err := strconv.ParseUint(p, 10, 16)
				if err != nil {
					return nil, unsupported("failed to parse port number '%s'", p)
				}
				n.port = v
			}
			if n.port == 0 {
				n.port = defaultPorts[protocol]
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// socketAddress is QEMU's SocketAddress of a host.
func socketAddress(h netHost) obj {
	if h.transport == "unix" {
		return obj{}.set("type", "unix").set("path", h.socket)
	}
	return obj{}.set("type", "inet").set("host", h.name).set("port", strconv.FormatUint(h.port, 10))
}

// netAuth is a source's <auth>: in <source>, or directly in the <disk>
// for its top image.
func netAuth(l chainLayer) *conf.Element {
	if a := child(l.el, "source", "auth"); a != nil {
		return a
	}
	if l.top {
		return child(l.el, "auth")
	}
	return nil
}

// networkStorage is the protocol node of a network source, without the
// node-name and the properties common to all nodes.
func (b *builder) networkStorage(d *conf.Disk, l chainLayer, env hostEnv) (obj, error) {
	s := l.src
	src := child(l.el, "source")
	hosts, err := netHosts(src, s.Protocol)
	if err != nil {
		return nil, err
	}
	auth := netAuth(l)
	one := func() (netHost, error) {
		if len(hosts) != 1 {
			return netHost{}, internalError("%s protocol accepts only one host", s.Protocol)
		}
		return hosts[0], nil
	}
	o := obj{}.set("driver", s.Protocol)
	switch s.Protocol {
	case "nbd":
		h, err := one()
		if err != nil {
			return nil, err
		}
		o = o.set("server", socketAddress(h))
		if s.Name != "" {
			o = o.set("export", s.Name)
		}
		if b.nbdTLS(src) {
			o = o.set("tls-creds", tlsAlias(s))
			if hn := attr(src, "tlsHostname"); hn != "" {
				o = o.set("tls-hostname", hn)
			}
		}
	case "rbd":
		pool, image, _ := strings.Cut(s.Name, "/")
		o = o.set("pool", pool).set("image", image)
		if sn := attr(child(src, "snapshot"), "name"); sn != "" {
			o = o.set("snapshot", sn)
		}
		if cf := attr(child(src, "config"), "file"); cf != "" {
			o = o.set("conf", cf)
		}
		if len(hosts) > 0 {
			var servers []obj
			for _, h := range hosts {
				if h.transport != "tcp" {
					return nil, internalError("only TCP protocol can be converted to InetSocketAddress")
				}
				servers = append(servers, obj{}.set("host", h.name).set("port", strconv.FormatUint(h.port, 10)))
			}
			o = o.set("server", servers)
		}
		if enc := encryptionElem(l); enc != nil && attr(enc, "engine") == "librbd" {
			f := attr(enc, "format")
			o = o.set("encrypt", obj{}.set("format", f).set("key-secret", s.NodeNameFormat+"-encryption-secret0"))
		}
		if auth != nil {
			o = o.set("user", attr(auth, "username")).set("auth-client-required", []string{"cephx", "none"}).
				set("key-secret", s.NodeName+"-auth-secret0")
		}
	case "iscsi":
		h, err := one()
		if err != nil {
			return nil, err
		}
		target, lunStr, hasLun := strings.Cut(s.Name, "/")
		lun := uint64(0)
		if hasLun {
			if lun, err = strconv.ParseUint(lunStr, 10, 32); err != nil {
				return nil, internalError("cannot parse target for lunStr '%s'", target)
			}
		}
		portal := fmt.Sprintf("%s:%d", h.name, h.port)
		if ip := net.ParseIP(h.name); ip != nil && ip.To4() == nil {
			portal = fmt.Sprintf("[%s]:%d", h.name, h.port)
		}
		o = o.set("portal", portal).set("target", target).set("lun", lun).set("transport", "tcp")
		if auth != nil {
			o = o.set("user", attr(auth, "username")).set("password-secret", s.NodeName+"-auth-secret0")
		}
		if iqn := attr(child(src, "initiator", "iqn"), "name"); iqn != "" {
			o = o.set("initiator-name", iqn)
		}
	case "http", "https", "ftp", "ftps", "tftp":
		h, err := one()
		if err != nil {
			return nil, err
		}
		u := &url.URL{Scheme: s.Protocol, Host: net.JoinHostPort(h.name, strconv.FormatUint(h.port, 10))}
		if h.transport != "tcp" {
			u.Scheme += "+" + h.transport
			u.Host = h.name
		}
		if s.Name != "" {
			u.Path = s.Name
			if !strings.HasPrefix(s.Name, "/") {
				u.Path = "/" + s.Name
			}
		}
		u.RawQuery = attr(src, "query")
		o = o.set("url", u.String())
		if auth != nil {
			o = o.set("username", attr(auth, "username")).set("password-secret", s.NodeName+"-auth-secret0")
		}
		if v := attr(child(src, "ssl"), "verify"); v != "" && (s.Protocol == "https" || s.Protocol == "ftps") {
			o = o.set("sslverify", v == "yes")
		}
		if cookieString(src, s.Protocol) != "" {
			o = o.set("cookie-secret", s.NodeName+"-httpcookie-secret0")
		}
		if t := attr(child(src, "timeout"), "seconds"); t != "" && t != "0" {
			o = o.set("timeout", uintOr(t, 0))
		}
		if r := attr(child(src, "readahead"), "size"); r != "" && r != "0" {
			o = o.set("readahead", uintOr(r, 0))
		}
	case "gluster":
		vol, path, _ := strings.Cut(s.Name, "/")
		var servers []obj
		for _, h := range hosts {
			servers = append(servers, socketAddress(h))
		}
		// libvirt's gluster_debug_level default.
		o = o.set("volume", vol).set("path", path).set("server", servers).set("debug", 4)
	case "nfs":
		if len(hosts) == 0 {
			return nil, internalError("nfs protocol accepts only one host")
		}
		o = o.set("server", obj{}.set("host", hosts[0].name).set("type", "inet")).set("path", s.Name)
		id := child(src, "identity")
		if u := attr(id, "user"); u != "" {
			uid, err := nfsID(u, true)
			if err != nil {
				return nil, err
			}
			o = o.set("user", uid)
		}
		if g := attr(id, "group"); g != "" {
			gid, err := nfsID(g, false)
			if err != nil {
				return nil, err
			}
			o = o.set("group", gid)
		}
	case "ssh":
		h, err := one()
		if err != nil {
			return nil, err
		}
		if h.transport != "tcp" {
			return nil, internalError("only TCP protocol can be converted to InetSocketAddress")
		}
		o = o.set("path", s.Name).set("server", obj{}.set("host", h.name).set("port", strconv.FormatUint(h.port, 10)))
		if auth != nil {
			o = o.set("user", attr(auth, "username"))
		}
	default:
		return nil, unsupportedValue("devices/disk/source", "protocol", s.Protocol)
	}
	return o, nil
}

// nfsID resolves an <identity> user or group: "+N" is the number N, a
// name is looked up on the host.
func nfsID(v string, isUser bool) (int64, error) {
	if n, ok := strings.CutPrefix(v, "+"); ok {
		if id, err := strconv.ParseInt(n, 10, 64); err == nil {
			return id, nil
		}
	}
	var id string
	if isUser {
		u, err := user.Lookup(v)
		if err != nil {
			return 0, internalError("Failed to parse user '%s'", v)
		}
		id = u.Uid
	} else {
		g, err := user.LookupGroup(v)
		if err != nil {
			return 0, internalError("Failed to parse group '%s'", v)
		}
		id = g.Gid
	}
	return strconv.ParseInt(id, 10, 64)
}

// cookieString is the Cookie header of an http(s) source's <cookies>.
func cookieString(src *conf.Element, protocol string) string {
	if protocol != "http" && protocol != "https" {
		return ""
	}
	var parts []string
	for _, c := range kids(child(src, "cookies"), "cookie") {
		parts = append(parts, attr(c, "name")+"="+c.Text())
	}
	return strings.Join(parts, "; ")
}

// StorageConfig is qemu.conf's storage settings the builder uses.
type StorageConfig struct {
	// NBDTLS is nbd_tls: NBD disks without tls= use TLS.
	NBDTLS bool
	// NBDTLSx509CertDir is nbd_tls_x509_cert_dir; "" is libvirt's
	// default_tls_x509_cert_dir, /etc/pki/qemu.
	NBDTLSx509CertDir string
	// NBDTLSx509SecretUUID is nbd_tls_x509_secret_uuid, the secret
	// decrypting the client key; "" for none.
	NBDTLSx509SecretUUID string
}

// nbdTLS reports whether an NBD source uses TLS: its tls= attribute, else
// nbd_tls.
func (b *builder) nbdTLS(src *conf.Element) bool {
	switch attr(src, "tls") {
	case "yes":
		return true
	case "no":
		return false
	}
	return b.p.Storage.NBDTLS
}

// tlsAlias is the id of a source's TLS credentials object.
func tlsAlias(s *conf.DiskSource) string { return "obj" + s.NodeName + "_tls0" }

// tlsObjects are the TLS key secret and client credentials of an NBD
// source with TLS.
func (b *builder) tlsObjects(s *conf.DiskSource, env hostEnv) ([]obj, error) {
	var out []obj
	alias := tlsAlias(s)
	dir := b.p.Storage.NBDTLSx509CertDir
	if dir == "" {
		dir = "/etc/pki/qemu"
	}
	tls := obj{}.set("qom-type", "tls-creds-x509").set("id", alias).set("dir", dir).
		set("endpoint", "client").set("verify-peer", true)
	if u := b.p.Storage.NBDTLSx509SecretUUID; u != "" {
		v, err := lookupSecret(env, SecretRef{UUID: u, UsageType: "tls"})
		if err != nil {
			return nil, err
		}
		sec, err := b.secretObject(alias+"-secret0", v)
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
		tls = tls.set("passwordid", alias+"-secret0")
	}
	return append(out, tls), nil
}
