package network

import (
	"strings"
	"testing"
)

// A line break in any value dnsmasq's files carry would be a line of the
// client's choosing in them: each is refused at define time.
func TestLineBreaksRefused(t *testing.T) {
	base := `<network><name>NAME</name><forward mode='nat'/><bridge name='BRIDGE'/><domain name='DOMAIN'/>
<dns><txt name='TXTNAME' value='TXTVALUE'/><host ip='10.1.2.9'><hostname>HOSTNAME</hostname></host>
<srv service='ldap' protocol='tcp' domain='SRVDOMAIN' target='SRVTARGET' port='389'/><forwarder domain='FWDDOMAIN' addr='10.1.1.1'/></dns>
<ip address='10.1.2.1' netmask='255.255.255.0'><tftp root='TFTPROOT'/><dhcp><range start='10.1.2.2' end='10.1.2.254'/>
<host mac='00:16:3e:77:e2:ed' name='DHCPNAME' ip='10.1.2.10'/><bootp file='BOOTPFILE' server='10.1.2.1'/></dhcp></ip></network>`
	fill := func(doc, except, with string) string {
		for _, k := range []string{"NAME", "BRIDGE", "DOMAIN", "TXTNAME", "TXTVALUE", "HOSTNAME", "SRVDOMAIN", "SRVTARGET", "FWDDOMAIN", "TFTPROOT", "DHCPNAME", "BOOTPFILE"} {
			v := "x" + strings.ToLower(k)
			if k == except {
				v = with
			}
			doc = strings.ReplaceAll(doc, "'"+k+"'", "'"+v+"'")
			doc = strings.ReplaceAll(doc, ">"+k+"<", ">"+v+"<")
		}
		return doc
	}
	if _, err := parseDef(fill(base, "", ""), 0); err != nil {
		t.Fatalf("clean definition refused: %v", err)
	}
	for _, k := range []string{"NAME", "BRIDGE", "DOMAIN", "TXTVALUE", "HOSTNAME", "SRVDOMAIN", "SRVTARGET", "FWDDOMAIN", "TFTPROOT", "DHCPNAME", "BOOTPFILE"} {
		for _, bad := range []string{"a&#10;dhcp-script=/tmp/x", "a&#13;b"} {
			doc := fill(base, k, bad)
			if k == "HOSTNAME" || k == "NAME" {
				doc = fill(base, k, strings.ReplaceAll(bad, "&#10;", "\n"))
			}
			_, err := parseDef(doc, 0)
			if err == nil || !strings.HasPrefix(err.Error(), "invalid char in ") {
				t.Errorf("%s = %q: %v", k, bad, err)
			}
		}
	}
	// libvirt's own parser checks (conf), through the driver.
	for doc, want := range map[string]string{
		fill(base, "TXTNAME", "a,b"):  "prohibited character in DNS TXT record name 'a,b' of network xname",
		fill(base, "DHCPNAME", "-x"):  "Cannot use host name '-x' in network 'xname'",
		fill(base, "NAME", "a/b"):     "invalid char in name: /",
		fill(base, "BRIDGE", "../lo"): "bridge name '../lo' in network 'xname' is not a valid interface name",
		fill(base, "BRIDGE", "br 0"):  "bridge name 'br 0' in network 'xname' is not a valid interface name",
	} {
		if _, err := parseDef(doc, 0); err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
