package tlsauth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"
)

func TestMatchHostname(t *testing.T) {
	withSAN := &x509.Certificate{DNSNames: []string{"host.example.com", "*.virt.example.com", "10.0.0.9"},
		IPAddresses: []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("::1")}, Subject: pkix.Name{CommonName: "cn.example.com"}}
	cnOnly := &x509.Certificate{Subject: pkix.Name{CommonName: "Node1.Example.com"}}
	clientOnly := &x509.Certificate{Subject: pkix.Name{CommonName: "node1.example.com"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, tc := range []struct {
		c    *x509.Certificate
		host string
		want bool
	}{
		{withSAN, "host.example.com", true},
		{withSAN, "HOST.example.com.", true},
		{withSAN, "a.virt.example.com", true},
		{withSAN, "a.b.virt.example.com", false},
		{withSAN, "virt.example.com", false},
		{withSAN, "192.0.2.1", true},
		{withSAN, "::1", true},
		{withSAN, "[::1]", true},
		{withSAN, "10.0.0.9", true}, // an IP among the DNS names, as gnutls allows
		{withSAN, "192.0.2.2", false},
		{withSAN, "cn.example.com", false}, // the CN is ignored when there are DNS names
		{cnOnly, "node1.example.com", true},
		{cnOnly, "node2.example.com", false},
		{clientOnly, "node1.example.com", false},
	} {
		if got := MatchHostname(tc.c, tc.host); got != tc.want {
			t.Errorf("%v %q: %v", tc.c.DNSNames, tc.host, got)
		}
	}
	if matchName("*.com", "example.com") {
		t.Error("*.com matched")
	}
	if !matchName("w*.example.com", "www.example.com") || matchName("w*.example.com", "ftp.example.com") {
		t.Error("partial wildcard")
	}
}
