package client

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultTCPPort is libvirtd's listen_tcp port.
const DefaultTCPPort = "16509"

// Endpoint is where a URI leads: a socket to dial and the driver URI the
// daemon is asked to open there.
type Endpoint struct {
	Network string // "unix" or "tcp"
	Address string
	Name    string // sent in CONNECT_OPEN, e.g. "qemu:///system"
}

// remoteParams are query parameters that configure the client transport;
// like libvirt's remote driver we strip them from the name we send.
var remoteParams = map[string]bool{
	"name": true, "command": true, "socket": true, "auth": true, "netcat": true,
	"keyfile": true, "sshauth": true, "no_verify": true, "no_tty": true,
	"pkipath": true, "known_hosts": true, "known_hosts_verify": true,
	"tls_priority": true, "mode": true, "proxy": true, "tls": true,
	"no_sanity": true, "authfile": true,
}

// uriQuery returns the URI's query parameters (names are matched as
// libvirt does, case-insensitively, by lowering them) and its server,
// "localhost" when it names none (libvirt's priv->hostname).
func uriQuery(uri string) (url.Values, string) {
	u, err := url.Parse(uri)
	if err != nil {
		return url.Values{}, "localhost"
	}
	q := url.Values{}
	for k, vs := range u.Query() {
		q[strings.ToLower(k)] = append(q[strings.ToLower(k)], vs...)
	}
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	return q, host
}

// uriBool is libvirt's EXTRACT_URI_ARG_BOOL: a number, non-zero is true.
func uriBool(q url.Values, name string) bool {
	n, err := strconv.Atoi(q.Get(name))
	return err == nil && n != 0
}

// ParseURI resolves a libvirt URI such as test+unix:///default?socket=/p,
// qemu+tcp://host:16509/system or qemu:///system.
func ParseURI(uri string, readOnly bool) (Endpoint, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return Endpoint{}, fmt.Errorf("client: parsing URI %q: %w", uri, err)
	}
	if u.Scheme == "" {
		return Endpoint{}, fmt.Errorf("client: URI %q has no scheme", uri)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	q := u.Query()
	if transport == "" {
		transport = "unix"
		if u.Host != "" {
			transport = "tls" // libvirt's default for a remote host
		}
	}

	var ep Endpoint
	switch transport {
	case "unix":
		ep.Network = "unix"
		ep.Address = q.Get("socket")
		if ep.Address == "" {
			ep.Address = defaultSocket(u.Path, readOnly)
		}
	case "tcp":
		ep.Network = "tcp"
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = DefaultTCPPort
		}
		ep.Address = net.JoinHostPort(host, port)
	case "tls":
		ep.Network = "tls"
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = DefaultTLSPort
		}
		ep.Address = net.JoinHostPort(host, port)
	default:
		return Endpoint{}, fmt.Errorf("client: transport %q is not supported", transport)
	}

	if n := q.Get("name"); n != "" {
		ep.Name = n
		return ep, nil
	}
	keep := url.Values{}
	for k, vs := range q {
		if !remoteParams[k] {
			keep[k] = vs
		}
	}
	name := url.URL{Scheme: driver, Path: u.Path, RawQuery: keep.Encode()}
	// url.URL drops the empty authority, but libvirt names always carry
	// "//" (test:///default), so build it by hand.
	ep.Name = driver + "://" + name.EscapedPath()
	if name.RawQuery != "" {
		ep.Name += "?" + name.RawQuery
	}
	return ep, nil
}

func defaultSocket(path string, readOnly bool) string {
	sock := "libvirt-sock"
	if readOnly {
		sock = "libvirt-sock-ro"
	}
	if path == "/session" {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			dir = filepath.Join(os.Getenv("HOME"), ".cache")
		}
		return filepath.Join(dir, "libvirt", "libvirt-sock")
	}
	return "/var/run/libvirt/" + sock
}
