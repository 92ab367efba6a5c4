package hostiface

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"govirt/driver"
	"govirt/virerr"
)

type fake struct {
	t    *testing.T
	root string
}

func (f fake) file(p, content string) {
	full := filepath.Join(f.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f fake) link(p, target string) {
	full := filepath.Join(f.root, p)
	os.MkdirAll(filepath.Dir(full), 0o755)
	rel, _ := filepath.Rel(filepath.Dir(full), filepath.Join(f.root, target))
	if err := os.Symlink(rel, full); err != nil {
		f.t.Fatal(err)
	}
}

// iface makes /sys/devices/.../net/NAME with its class link.
func (f fake) iface(dir, name, devtype, mac, state string, mtu string) string {
	p := dir + "/net/" + name
	ue := "INTERFACE=" + name + "\nIFINDEX=3\n"
	if devtype != "" {
		ue = "DEVTYPE=" + devtype + "\n" + ue
	}
	f.file(p+"/uevent", ue)
	f.file(p+"/address", mac+"\n")
	f.file(p+"/operstate", state+"\n")
	f.file(p+"/mtu", mtu+"\n")
	f.link("/sys/class/net/"+name, p)
	return p
}

// newFake: eth0 (up, 1000 Mb/s) and eth1 (down) in bond0, eth2 in
// br0 with a guest tap vnet0 and tap0, eth2.10 a VLAN on eth2, lo.
func newFake(t *testing.T) *Host {
	f := fake{t, t.TempDir()}
	pci := "/sys/devices/pci0000:00/0000:00:03.0"
	e0 := f.iface(pci, "eth0", "", "52:54:00:00:00:01", "up", "1500")
	f.file(e0+"/speed", "1000\n")
	f.iface(pci, "eth1", "", "52:54:00:00:00:01", "down", "1500")
	e2 := f.iface(pci, "eth2", "", "52:54:00:00:00:02", "up", "9000")
	f.file(e2+"/speed", "-1\n")
	f.file(e2+"/brport/state", "3\n")
	v := "/sys/devices/virtual"
	b := f.iface(v, "bond0", "bond", "52:54:00:00:00:01", "up", "1500")
	for k, val := range map[string]string{"downdelay": "200", "updelay": "0", "miimon": "100", "arp_interval": "0",
		"mode": "active-backup 1", "arp_validate": "none 0", "use_carrier": "1", "arp_ip_target": ""} {
		f.file(b+"/bonding/"+k, val+"\n")
	}
	f.link(b+"/slave_eth1", pci+"/net/eth1")
	f.link(b+"/slave_eth0", pci+"/net/eth0")
	br := f.iface(v, "br0", "bridge", "52:54:00:00:00:02", "up", "9000")
	f.file(br+"/bridge/forward_delay", "1500\n")
	f.file(br+"/bridge/stp_state", "0\n")
	tap := f.iface(v, "vnet0", "", "fe:54:00:00:00:09", "unknown", "1500")
	f.file(tap+"/tun_flags", "0x1002\n")
	f.file(tap+"/brport/state", "3\n")
	for _, m := range []string{"eth2", "vnet0"} {
		f.file(br+"/brif/"+m+"/state", "3\n")
	}
	f.iface(v, "eth2.10", "vlan", "52:54:00:00:00:02", "lowerlayerdown", "9000")
	f.file("/proc/net/vlan/eth2.10", "eth2.10  VID: 10\t REORDER_HDR: 1  dev->priv_flags: 1021\n         total frames received            0\nDevice: eth2\nINGRESS priority mappings: 0:0\n")
	f.iface(v, "lo", "", "00:00:00:00:00:00", "unknown", "65536")
	return New(f.root)
}

func names(l []driver.Interface) []string {
	var out []string
	for _, i := range l {
		out = append(out, i.Name)
	}
	return out
}

func TestLists(t *testing.T) {
	h := newFake(t)
	all, err := h.ListAllInterfaces(0)
	if err != nil {
		t.Fatal(err)
	}
	// no bridge port (eth2), no tap (vnet0); libudev's path order
	if want := []string{"eth0", "eth1", "bond0", "br0", "eth2.10", "lo"}; !reflect.DeepEqual(names(all), want) {
		t.Errorf("all: %v, want %v", names(all), want)
	}
	act, _ := h.ListAllInterfaces(listActive)
	inact, _ := h.ListAllInterfaces(listInactive)
	if !reflect.DeepEqual(names(act), []string{"eth0", "bond0", "br0"}) || !reflect.DeepEqual(names(inact), []string{"eth1", "eth2.10", "lo"}) {
		t.Errorf("active %v inactive %v", names(act), names(inact))
	}
	up, _ := h.InterfaceNames(true)
	down, _ := h.InterfaceNames(false)
	if !reflect.DeepEqual(up, []string{"eth0", "bond0", "br0"}) || !reflect.DeepEqual(down, []string{"eth1"}) {
		t.Errorf("legacy active %v defined %v", up, down)
	}
	if _, err := h.ListAllInterfaces(4); virerr.CodeOf(err) != virerr.ErrInvalidArg {
		t.Errorf("flags: %v", err)
	}
	if i, err := h.LookupInterfaceByMACString("52:54:00:00:00:02"); err != nil || i.Name != "br0" {
		// eth2 is a bridge port and so not enumerated; eth2.10 shares the MAC
		if virerr.CodeOf(err) != virerr.ErrMultipleInterfaces {
			t.Errorf("by MAC: %v %v", i, err)
		}
	}
	if _, err := h.LookupInterfaceByMACString("52:54:00:00:00:01"); virerr.CodeOf(err) != virerr.ErrMultipleInterfaces ||
		!strings.Contains(err.Error(), "the MAC address '52:54:00:00:00:01' matches multiple interfaces") {
		t.Errorf("duplicate MAC: %v", err)
	}
	if i, err := h.LookupInterfaceByMACString("00:00:00:00:00:00"); err != nil || i.Name != "lo" {
		t.Errorf("lo by MAC: %v %v", i, err)
	}
	for _, n := range []string{"nope", "../../../etc", "", "..", "a/b"} {
		if _, err := h.LookupInterfaceByName(n); virerr.CodeOf(err) != virerr.ErrNoInterface {
			t.Errorf("%q: %v", n, err)
		}
		if _, err := h.InterfaceGetXMLDesc(driver.Interface{Name: n}, 0); virerr.CodeOf(err) != virerr.ErrNoInterface {
			t.Errorf("xml %q: %v", n, err)
		}
	}
	// a bridge port is not listed but can be looked up, as with libudev
	if i, err := h.LookupInterfaceByName("eth2"); err != nil || i.MAC != "52:54:00:00:00:02" {
		t.Errorf("eth2: %v %v", i, err)
	}
}

func TestXML(t *testing.T) {
	h := newFake(t)
	for name, want := range map[string]string{
		"eth0": `<interface type='ethernet' name='eth0'>
  <mtu size='1500'/>
  <link speed='1000' state='up'/>
  <mac address='52:54:00:00:00:01'/>
</interface>
`,
		"bond0": `<interface type='bond' name='bond0'>
  <mtu size='1500'/>
  <link state='up'/>
  <bond mode='active-backup'>
    <miimon freq='100' downdelay='200' carrier='netif'/>
    <interface type='ethernet' name='eth0'>
      <link speed='1000' state='up'/>
      <mac address='52:54:00:00:00:01'/>
    </interface>
    <interface type='ethernet' name='eth1'>
      <link state='down'/>
      <mac address='52:54:00:00:00:01'/>
    </interface>
  </bond>
</interface>
`,
		"br0": `<interface type='bridge' name='br0'>
  <mtu size='9000'/>
  <bridge stp='off' delay='1500'>
    <interface type='ethernet' name='eth2'>
      <link speed='4294967295' state='up'/>
      <mac address='52:54:00:00:00:02'/>
    </interface>
  </bridge>
</interface>
`,
		"eth2.10": `<interface type='vlan' name='eth2.10'>
  <mtu size='9000'/>
  <link state='lowerlayerdown'/>
  <vlan tag='10'>
    <interface name='eth2'/>
  </vlan>
</interface>
`,
	} {
		got, err := h.InterfaceGetXMLDesc(driver.Interface{Name: name}, 1)
		if err != nil || got != want {
			t.Errorf("%s: %v\n--- got\n%s--- want\n%s", name, err, got, want)
		}
	}
	if _, err := h.InterfaceGetXMLDesc(driver.Interface{Name: "eth0"}, 2); virerr.CodeOf(err) != virerr.ErrInvalidArg {
		t.Errorf("flags: %v", err)
	}
}

func TestParseVlanProc(t *testing.T) {
	for in, want := range map[string][2]string{
		"x  VID: 10\t REORDER\nDevice: eth0\n": {"10", "eth0"},
		"VID: 4094 \nDevice: bond0":            {"4094", "bond0"},
		"VID: x\nDevice: eth0\n":               {"", ""},
		"VID: 10\n":                            {"", ""},
		"VID: 10\nDevice: \n":                  {"", ""},
		"":                                     {"", ""},
	} {
		tag, dev, err := parseVlanProc(in)
		if tag != want[0] || dev != want[1] || (err == nil) != (want[0] != "") {
			t.Errorf("%q: %q %q %v", in, tag, dev, err)
		}
	}
}

func FuzzParseVlanProc(f *testing.F) {
	f.Add("eth2.10  VID: 10\t REORDER_HDR: 1\nDevice: eth2\n")
	f.Fuzz(func(t *testing.T, s string) {
		tag, dev, err := parseVlanProc(s)
		if err == nil && (tag == "" || dev == "" || strings.Contains(dev, "\n")) {
			t.Fatalf("%q gave %q %q", s, tag, dev)
		}
	})
}
