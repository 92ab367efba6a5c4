package network

import (
	"strings"
	"testing"
)

func TestUpdateDHCPHostConfig(t *testing.T) {
	m, _ := newTestManager(t, t.TempDir())
	n, err := m.NetworkDefineXML(`<network><name>u</name><bridge name='gvu0'/>
<ip address='192.168.160.1' netmask='255.255.255.0'><dhcp><range start='192.168.160.2' end='192.168.160.9'/>
<host mac='52:54:00:00:00:01' name='a' ip='192.168.160.10'/></dhcp></ip></network>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	upd := func(cmd uint32, doc string) error { return m.NetworkUpdate(n, cmd, sectionIPDHCPHost, -1, doc, 0) }
	if err := upd(updAddLast, `<host mac='52:54:00:00:00:02' name='b' ip='192.168.160.11'/>`); err != nil {
		t.Fatal(err)
	}
	if err := upd(updAddFirst, `<host mac='52:54:00:00:00:03' name='c' ip='192.168.160.12'/>`); err != nil {
		t.Fatal(err)
	}
	err = upd(updAddLast, `<host mac='52:54:00:00:00:09' name='b' ip='192.168.160.19'/>`)
	if err == nil || !strings.Contains(err.Error(), "there is an existing dhcp host entry in network 'u' that matches") {
		t.Fatalf("duplicate add: %v", err)
	}
	if err := upd(updModify, `<host mac='52:54:00:00:00:01' name='a2' ip='192.168.160.20'/>`); err != nil {
		t.Fatal(err)
	}
	if err := upd(updDelete, `<host mac='52:54:00:00:00:02'/>`); err != nil {
		t.Fatal(err)
	}
	if err := upd(updDelete, `<host mac='52:54:00:00:00:02'/>`); err == nil || !strings.Contains(err.Error(), "couldn't locate a matching dhcp host entry") {
		t.Fatalf("second delete: %v", err)
	}
	if err := upd(updAddLast, `<host mac='52:54:00:00:00:04' ip='fd00::4'/>`); err == nil || !strings.Contains(err.Error(), "address family") {
		t.Fatalf("wrong family: %v", err)
	}
	if err := m.NetworkUpdate(n, updAddLast, 10, -1, `<host ip='1.2.3.4'><hostname>x</hostname></host>`, 0); err == nil || !strings.Contains(err.Error(), "can't update 'dns-host' section of network 'u'") {
		t.Fatalf("dns-host: %v", err)
	}
	if err := m.NetworkUpdate(n, updAddLast, sectionIPDHCPHost, -1, `<host mac='52:54:00:00:00:05' ip='192.168.160.15'/>`, updLive); err == nil || !strings.Contains(err.Error(), "network is not running") {
		t.Fatalf("live update of an inactive network: %v", err)
	}
	xml, _ := m.NetworkGetXMLDesc(n, 0)
	want := "<host mac='52:54:00:00:00:03' name='c' ip='192.168.160.12'/>\n" +
		"      <host mac='52:54:00:00:00:01' name='a2' ip='192.168.160.20'/>\n    </dhcp>"
	if !strings.Contains(xml, want) {
		t.Fatalf("after updates:\n%s", xml)
	}
	// The change is persistent.
	m2, _ := newTestManager(t, m.cfg.StateDir[:len(m.cfg.StateDir)-len("/state")])
	if xml2, _ := m2.NetworkGetXMLDesc(n, 0); xml2 != xml {
		t.Fatalf("reloaded:\n%s", xml2)
	}
}

// An update's fragment meets the same rules as a definition: libxml2's
// depth limit, libvirt's host checks, and no line breaks for dnsmasq.
func TestUpdateDHCPHostHostile(t *testing.T) {
	m, _ := newTestManager(t, t.TempDir())
	n, err := m.NetworkDefineXML(`<network><name>h</name><bridge name='gvh0'/>
<ip address='192.168.161.1' netmask='255.255.255.0'><dhcp><range start='192.168.161.2' end='192.168.161.9'/></dhcp></ip></network>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	upd := func(doc string) error { return m.NetworkUpdate(n, updAddLast, sectionIPDHCPHost, -1, doc, 0) }
	deep := "<host mac='52:54:00:00:00:02' name='b' ip='192.168.161.11'>" + strings.Repeat("<x>", 300) + strings.Repeat("</x>", 300) + "</host>"
	for doc, want := range map[string]string{
		deep: "network_update_xml:1: Excessive depth in document: 256 use XML_PARSE_HUGE option",
		`<host mac='52:54:00:00:00:02' name='b&#10;dhcp-script=/x' ip='192.168.161.11'/>`: "invalid char in DHCP host name: \n",
		`<host mac='52:54:00:00:00:02' name='-b' ip='192.168.161.11'/>`:                   "Cannot use host name '-b' in network 'h'",
		`<host id='0x:zz' name='b' ip='192.168.161.11'/>`:                                 "Invalid character 'x' in id '0x:zz' of network 'h'",
	} {
		if err := upd(doc); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: %v, want %q", doc, err, want)
		}
	}
}
