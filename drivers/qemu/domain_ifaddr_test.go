package qemu

import (
	"os"
	"path/filepath"
	"testing"

	"govirt/conf"
)

func TestARPInterfaces(t *testing.T) {
	p := filepath.Join(t.TempDir(), "arp")
	table := "IP address       HW type     Flags       HW address            Mask     Device\n" +
		"192.168.122.7    0x1         0x2         52:54:00:AA:00:01     *        virbr0\n" +
		"192.168.122.9    0x1         0x0         52:54:00:aa:00:02     *        virbr0\n" +
		"10.0.0.5         0x1         0x2         52:54:00:aa:00:01     *        br1\n"
	if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	nics := []*conf.Interface{
		{MAC: "52:54:00:aa:00:01", TargetDev: "vnet0"},
		{MAC: "52:54:00:aa:00:02", TargetDev: "vnet1"}, // incomplete entry only
	}
	got, err := arpInterfaces(nics, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "vnet0" || len(got[0].Addrs) != 2 ||
		got[0].Addrs[0].Addr != "192.168.122.7" || got[0].Addrs[1].Addr != "10.0.0.5" {
		t.Fatalf("got %+v", got)
	}
}
