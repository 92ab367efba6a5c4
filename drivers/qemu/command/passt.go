package command

import (
	"net/netip"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// <interface type='user'> with <backend type='passt'>: the driver runs
// passt on a unix socket and QEMU connects to it with a stream netdev
// (libvirt's qemu_passt.c).

// Passt is a passt the driver starts before QEMU.
type Passt struct {
	Alias  string
	Socket string
	// Args follow the binary, as qemuPasstStart writes them.
	Args []string
}

// isPasst reports a user interface served by passt.
func isPasst(n *conf.Interface, e *conf.Element) bool {
	return n.Type == "user" && attr(child(e, "backend"), "type") == "passt"
}

// passtSocket is where the passt of an interface listens.
func (b *builder) passtSocket(alias string) string {
	if b.p.PasstSocket != nil {
		return b.p.PasstSocket(alias)
	}
	return b.p.DomainDir + "/" + alias + "-passt.socket"
}

// passtNetdev is the stream netdev QEMU connects to passt with.
func (b *builder) passtNetdev(n *conf.Interface) obj {
	addr := obj{}.set("type", "unix").set("path", b.passtSocket(n.Alias))
	return obj{}.set("type", "stream").set("addr", addr).set("server", false)
}

func virerrInternal(msg string) error {
	return virerr.New(virerr.FromDomain, virerr.ErrInternalError, "%s", msg)
}

// checkPasst is libvirt's validation of passt interfaces.
func checkPasst(n *conf.Interface, e *conf.Element) error {
	be := attr(child(e, "backend"), "type")
	if be == "passt" && n.Type != "user" {
		return virerrInternal("The 'passt' backend can only be used with interface type='user'")
	}
	if be != "" && be != "passt" && be != "default" {
		return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "type", "backend", be)
	}
	if len(e.Children("portForward")) > 0 && be != "passt" {
		return unsupported("The <portForward> element can only be used with the 'passt' backend of interface type='user'")
	}
	for _, pf := range e.Children("portForward") {
		for _, r := range pf.Children("range") {
			if attr(r, "start") == "" && (attr(r, "end") != "" || attr(r, "to") != "" || attr(r, "exclude") != "") {
				return unsupported("The 'range' of a 'portForward' requires 'start' attribute if 'end', 'to', or 'exclude' is specified")
			}
		}
	}
	return nil
}

// passtArgs are passt's arguments for an interface (qemuPasstStart).
func (b *builder) passtArgs(n *conf.Interface, e *conf.Element) ([]string, error) {
	args := []string{"--one-off", "--socket", b.passtSocket(n.Alias), "--mac-addr", n.MAC}
	if m := attr(child(e, "mtu"), "size"); m != "" && m != "0" {
		args = append(args, "--mtu", m)
	}
	if d := attr(child(e, "source"), "dev"); d != "" {
		args = append(args, "--interface", d)
	}
	if l := attr(child(e, "backend"), "logFile"); l != "" {
		args = append(args, "--log-file", l)
	}
	for _, ip := range e.Children("ip") {
		a, err := netip.ParseAddr(attr(ip, "address"))
		if err != nil {
			return nil, xmlError("Invalid IP address '%s'", attr(ip, "address"))
		}
		args = append(args, "--address", a.String())
		if p := attr(ip, "prefix"); p != "" && p != "0" && a.Is4() {
			args = append(args, "--netmask", p)
		}
	}
	for _, pf := range e.Children("portForward") {
		switch p := attr(pf, "proto"); p {
		case "tcp":
			args = append(args, "--tcp-ports")
		case "udp":
			args = append(args, "--udp-ports")
		default:
			return nil, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "proto", "portForward", p)
		}
		var sb strings.Builder
		if a := attr(pf, "address"); a != "" {
			ad, err := netip.ParseAddr(a)
			if err != nil {
				return nil, xmlError("Invalid IP address '%s'", a)
			}
			sb.WriteString(ad.String())
			if d := attr(pf, "dev"); d != "" {
				sb.WriteString("%" + d)
			}
			sb.WriteByte('/')
		}
		ranges := pf.Children("range")
		if len(ranges) == 0 {
			sb.WriteString("all")
		}
		for i, r := range ranges {
			if i > 0 {
				sb.WriteByte(',')
			}
			if attr(r, "exclude") == "yes" {
				sb.WriteByte('~')
			}
			start, _ := strconv.Atoi(attr(r, "start"))
			end, _ := strconv.Atoi(attr(r, "end"))
			to, _ := strconv.Atoi(attr(r, "to"))
			sb.WriteString(strconv.Itoa(start))
			if end != 0 {
				sb.WriteString("-" + strconv.Itoa(end))
			}
			if to != 0 {
				sb.WriteString(":" + strconv.Itoa(to))
				if end != 0 {
					sb.WriteString("-" + strconv.Itoa(end+to-start))
				}
			}
		}
		args = append(args, sb.String())
	}
	return args, nil
}
