package network

import (
	"regexp"
	"strings"

	"govirt/conf"
)

var forwardOpen = regexp.MustCompile(`<forward\b[^>]*?(/?)>`)

// withNATPorts is the live definition of a started NAT network: libvirt's
// iptablesForwardMasquerade fills in the default masquerading port range
// of the definition it is given, so the live XML of an active NAT network
// with an IPv4 address shows <nat><port start='1024' end='65535'/></nat>.
func withNATPorts(def *conf.Network, x *netXML) *conf.Network {
	if x.forwardMode() != "nat" {
		return def
	}
	has4 := false
	for _, ip := range x.IPs {
		has4 = has4 || ip.v4()
	}
	data, err := formatNet(def)
	if !has4 || err != nil {
		return def
	}
	doc := string(data)
	loc := forwardOpen.FindStringSubmatchIndex(doc)
	if loc == nil || strings.Contains(doc, "<nat") {
		return def
	}
	const nat = "\n    <nat>\n      <port start='1024' end='65535'/>\n    </nat>"
	open := doc[loc[0]:loc[1]]
	var repl string
	if loc[2] != loc[3] { // self-closing
		repl = strings.TrimSuffix(open, "/>") + ">" + nat + "\n  </forward>"
	} else {
		repl = open + nat
	}
	live, err := conf.ParseNetwork([]byte(doc[:loc[0]]+repl+doc[loc[1]:]), 0)
	if err != nil {
		return def
	}
	return live
}
