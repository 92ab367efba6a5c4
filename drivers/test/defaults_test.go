package test

import (
	"strings"
	"testing"

	"govirt/driver"
	"govirt/uuid"
)

// The facts below are libvirt 9.0's test:///default (test_driver.c's
// defaultConnXML and defaultNodeInfo, checked against a live libvirtd).

func TestDefaultDomain(t *testing.T) {
	c := openDefault(t)
	all, err := c.ListAllDomains(0)
	if err != nil || len(all) != 1 {
		t.Fatalf("domains %v, %v", all, err)
	}
	d := all[0]
	want := driver.Domain{Name: "test", UUID: uuid.UUID{0x66, 0x95, 0xeb, 0x01, 0xf6, 0xa4, 0x83, 0x04, 0x79, 0xaa, 0x97, 0xf2, 0x50, 0x2e, 0x19, 0x3f}, ID: 1}
	if d != want {
		t.Fatalf("domain %+v, want %+v", d, want)
	}
	// libvirt loads it with reason 0, not "booted".
	wantState(t, c, d, driver.StateRunning, driver.RunningUnknown)
	info, err := c.DomainGetInfo(d)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != driver.StateRunning || info.MaxMem != 8388608 || info.Memory != 2097152 || info.NrVirtCPU != 2 || info.CPUTime == 0 {
		t.Fatalf("info %+v", info)
	}
	if os, _ := c.DomainGetOSType(d); os != "linux" {
		t.Fatalf("os type %q", os)
	}
	if p, _ := c.DomainIsPersistent(d); !p {
		t.Fatal("not persistent")
	}
	if a, _ := c.DomainGetAutostart(d); a {
		t.Fatal("autostart")
	}
	if n, _ := c.DomainGetMaxVcpus(d); n != 2 {
		t.Fatalf("max vcpus %d", n)
	}
	x, err := c.DomainGetXMLDesc(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<domain type='test' id='1'>", "<name>test</name>", "/guest/diskimage1",
		"aa:bb:cc:dd:ee:ff", "<target dev='testnet0'/>", "memballoon model='virtio'", "arch='i686'"} {
		if !strings.Contains(x, s) {
			t.Errorf("dumpxml lacks %q:\n%s", s, x)
		}
	}
	l, _ := c.DomainGetSecurityLabel(d)
	m, _ := c.NodeGetSecurityModel()
	if l.Label != "libvirt-test" || !l.Enforcing || m.Model != "testSecurity" || m.DOI != "" {
		t.Fatalf("security %+v %+v", l, m)
	}
	st, _ := c.DomainMemoryStats(d, 13, 0)
	if len(st) != 13 || st[0] != (driver.MemoryStat{Tag: driver.MemStatActualBalloon, Val: 2097152}) || st[5].Val != 1048576 || st[8].Val != 627319920 {
		t.Fatalf("memstats %+v", st)
	}
	sp, _ := c.DomainGetSchedulerParameters(d, 0)
	if len(sp) != 1 || sp[0].Field != "weight" || sp[0].Value != uint32(50) {
		t.Fatalf("sched %+v", sp)
	}
	mp, _ := c.DomainGetMemoryParameters(d, 0)
	if len(mp) != 3 || mp[0].Value != unlimited {
		t.Fatalf("memtune %+v", mp)
	}
	vi, maps, err := c.DomainGetVcpus(d, 2, 1)
	if err != nil || len(vi) != 2 || vi[1].CPU != 15 || vi[1].State != 1 || len(maps) != 2 || maps[0] != 0xff {
		t.Fatalf("vcpus %+v %v %v", vi, maps, err)
	}
	stats, _ := c.GetAllDomainStats(nil, 0, 0)
	if len(stats) != 1 || len(stats[0].Params) != 2 || stats[0].Params[0].Value != int32(1) || stats[0].Params[1].Value != int32(0) {
		t.Fatalf("stats %+v", stats)
	}
}

func TestDefaultHost(t *testing.T) {
	c := openDefault(t)
	ni, _ := c.NodeInfo()
	want := driver.NodeInfo{Model: "i686", Memory: 3145728, CPUs: 16, MHz: 1400, Nodes: 2, Sockets: 2, Cores: 2, Threads: 2}
	if ni != want {
		t.Fatalf("nodeinfo %+v", ni)
	}
	if c.Type() != "TEST" {
		t.Fatal(c.Type())
	}
	if v, _ := c.Version(); v != 2 {
		t.Fatal(v)
	}
	if n, _ := c.MaxVcpus(""); n != 32 {
		t.Fatal(n)
	}
	if f, _ := c.NodeFreeMemory(); f != 3145728 {
		t.Fatal(f)
	}
	if cells, _ := c.NodeCellsFreeMemory(0, 5); len(cells) != 2 || cells[0] != 2097152 || cells[1] != 4194304 {
		t.Fatal(cells)
	}
	m, online, n, _ := c.NodeCPUMap(0)
	if len(m) != 1 || m[0] != 0x15 || online != 3 || n != 8 {
		t.Fatal(m, online, n)
	}
	caps, _ := c.Capabilities()
	for _, s := range []string{"<cells num='2'>", "<pages unit='KiB' size='8'>524288</pages>",
		"<cpu id='15' socket_id='1' die_id='0' core_id='7' siblings='15'/>", "<os_type>xen</os_type>", "<model>testSecurity</model>"} {
		if !strings.Contains(caps, s) {
			t.Errorf("capabilities lack %q", s)
		}
	}
	si, _ := c.Sysinfo(0)
	if !strings.Contains(si, "G4ETA1WW (2.61 )") {
		t.Fatal(si)
	}
	_, err := c.DomainCapabilities("", "", "", "", 0)
	wantErr(t, err, 3, 20, "this function is not supported by the connection driver: virConnectGetDomainCapabilities")
}

func TestDefaultNetworkPoolInterface(t *testing.T) {
	c := openDefault(t)
	nets, _ := c.ListAllNetworks(0)
	if len(nets) != 1 || nets[0].Name != "default" || nets[0].UUID.String() != "dd8fe884-6c02-601e-7551-cca97df1c5df" {
		t.Fatalf("networks %+v", nets)
	}
	if a, _ := c.NetworkIsActive(nets[0]); !a {
		t.Fatal("network inactive")
	}
	if a, _ := c.NetworkGetAutostart(nets[0]); a {
		t.Fatal("network autostart")
	}
	if br, _ := c.NetworkGetBridgeName(nets[0]); br != "virbr0" {
		t.Fatal(br)
	}
	const netXML = `<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`
	if x, _ := c.NetworkGetXMLDesc(nets[0], 0); x != netXML {
		t.Fatalf("net xml:\n%s", x)
	}
	pools, _ := c.ListAllStoragePools(0)
	if len(pools) != 1 || pools[0].Name != "default-pool" || pools[0].UUID.String() != "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566" {
		t.Fatalf("pools %+v", pools)
	}
	info, _ := c.StoragePoolGetInfo(pools[0])
	if info != (driver.PoolInfo{State: driver.PoolRunning, Capacity: 107374182400, Allocation: 0, Available: 107374182400}) {
		t.Fatalf("pool info %+v", info)
	}
	const poolXML = `<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>107374182400</available>
  <source>
  </source>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
`
	if x, _ := c.StoragePoolGetXMLDesc(pools[0], 0); x != poolXML {
		t.Fatalf("pool xml:\n%s", x)
	}
	if vols, _ := c.StoragePoolListAllVolumes(pools[0], 0); len(vols) != 0 {
		t.Fatal(vols)
	}
	ifs, _ := c.ListAllInterfaces(0)
	if len(ifs) != 1 || ifs[0] != (driver.Interface{Name: "eth1", MAC: "aa:bb:cc:dd:ee:ff"}) {
		t.Fatalf("interfaces %+v", ifs)
	}
	const ifXML = `<interface type='ethernet' name='eth1'>
  <start mode='onboot'/>
  <mtu size='1492'/>
  <protocol family='ipv4'>
    <ip address='192.168.0.5' prefix='24'/>
    <route gateway='192.168.0.1'/>
  </protocol>
  <mac address='aa:bb:cc:dd:ee:ff'/>
</interface>
`
	if x, _ := c.InterfaceGetXMLDesc(ifs[0], 0); x != ifXML {
		t.Fatalf("iface xml:\n%s", x)
	}
}
