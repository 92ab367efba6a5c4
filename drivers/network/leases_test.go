package network

import (
	"testing"

	"govirt/driver"
)

func TestParseLeases(t *testing.T) {
	x, err := parseNetXML([]byte(`<network><name>n</name><bridge name='virbr7'/>
<ip address='192.168.150.1' netmask='255.255.255.0'/><ip family='ipv6' address='fd00::1' prefix='64'/></network>`))
	if err != nil {
		t.Fatal(err)
	}
	data := "2000 52:54:00:11:22:33 192.168.150.10 g1 01:52:54:00:11:22:33\n" +
		"500 52:54:00:aa:bb:cc 192.168.150.11 old *\n" +
		"0 52:54:00:44:55:66 192.168.150.12 * *\n" +
		"duid 00:01:00:01:2c:aa:bb:cc:52:54:00:00:00:01\n" +
		"3000 1234 fd00::10 g6 00:03:00:01:52:54:00:11:22:33\n"
	got := parseLeases(data, x, "", 1000)
	want := []driver.NetworkDHCPLease{
		{Iface: "virbr7", ExpiryTime: 2000, MAC: "52:54:00:11:22:33", IPAddr: "192.168.150.10", Prefix: 24, Hostname: "g1", ClientID: "01:52:54:00:11:22:33"},
		{Iface: "virbr7", ExpiryTime: 0, MAC: "52:54:00:44:55:66", IPAddr: "192.168.150.12", Prefix: 24},
		{Iface: "virbr7", ExpiryTime: 3000, Type: 1, IAID: "1234", IPAddr: "fd00::10", Prefix: 64, Hostname: "g6", ClientID: "00:03:00:01:52:54:00:11:22:33"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("lease %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := parseLeases(data, x, "52:54:00:11:22:33", 1000); len(got) != 1 || got[0].IPAddr != "192.168.150.10" {
		t.Errorf("mac filter: %+v", got)
	}
}
