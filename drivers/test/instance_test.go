package test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"govirt/driver"
)

func TestSharedStateAndResetOnLastClose(t *testing.T) {
	drv := New()
	a := openURI(t, drv, "test:///default")
	b := openURI(t, drv, "test:///default")
	rec := record(t, b)
	d := mustDom(t, a, "test")
	if err := a.DomainSuspend(d); err != nil {
		t.Fatal(err)
	}
	// The other connection sees the change and its event.
	wantState(t, b, d, driver.StatePaused, driver.PausedUser)
	if e := rec.wait(t, 1)[0].(driver.DomainEvent); e.Event != driver.EventSuspended {
		t.Fatalf("event %+v", e)
	}
	a.Close()
	a.Close() // a second close must not drop b's reference
	wantState(t, b, d, driver.StatePaused, driver.PausedUser)
	b.Close()
	c := openURI(t, drv, "test:///default")
	wantState(t, c, mustDom(t, c, "test"), driver.StateRunning, driver.RunningUnknown)
}

func TestOpenURIs(t *testing.T) {
	drv := New()
	for _, uri := range []string{"qemu:///system", "test://host/default"} {
		u := mustURL(t, uri)
		if c, err := drv.Open(u, false); c != nil || err != nil {
			t.Fatalf("%s claimed: %v %v", uri, c, err)
		}
	}
	if _, err := drv.Open(mustURL(t, "test:///"), false); err == nil {
		t.Fatal("test:/// opened")
	}
	if _, err := drv.Open(mustURL(t, "test:///nonexistent/node.xml"), false); err == nil {
		t.Fatal("missing node file opened")
	}
}

const nodeFile = `<node>
  <cpu>
    <mhz>6000</mhz>
    <model>i986</model>
    <active>50</active>
    <nodes>4</nodes>
    <sockets>4</sockets>
    <cores>4</cores>
    <threads>2</threads>
  </cpu>
  <memory>8192000</memory>
  <domain file="dom.xml"/>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>off</name>
    <memory>524288</memory>
    <os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
    <test:hasmanagedsave/>
  </domain>
  <network>
    <name>private</name>
    <uuid>004b22212d78c30f5aa5f03c87d21e69</uuid>
    <bridge name='brpriv'/>
    <ip address='192.168.124.1' netmask='255.255.255.0'/>
  </network>
  <interface type='ethernet' name='eth2'>
    <mac address='00:11:22:33:44:55'/>
  </interface>
  <pool type='dir'>
    <name>pool1</name>
    <target><path>/pool1</path></target>
    <volume>
      <name>v1</name>
      <capacity unit='MiB'>2</capacity>
      <allocation unit='MiB'>1</allocation>
    </volume>
    <volume file='vol.xml'/>
  </pool>
</node>`

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNodeFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("node.xml", nodeFile)
	write("dom.xml", strings.Replace(demoXML, "<name>demo</name>", "<name>fromfile</name>", 1))
	write("vol.xml", "<volume><name>v2</name><capacity>1000</capacity></volume>")
	drv := New()
	c := openURI(t, drv, "test://"+filepath.Join(dir, "node.xml"))

	ni, _ := c.NodeInfo()
	if ni != (driver.NodeInfo{Model: "i986", Memory: 8192000, CPUs: 50, MHz: 6000, Nodes: 4, Sockets: 4, Cores: 4, Threads: 2}) {
		t.Fatalf("nodeinfo %+v", ni)
	}
	doms, _ := c.ListAllDomains(0)
	if len(doms) != 2 || doms[0].Name != "fromfile" || doms[0].ID != 1 || doms[1].Name != "off" || doms[1].ID != -1 {
		t.Fatalf("domains %+v", doms)
	}
	wantState(t, c, doms[0], driver.StateRunning, 0)
	wantState(t, c, doms[1], driver.StateShutoff, 0)
	if ms, _ := c.DomainHasManagedSaveImage(doms[1], 0); !ms {
		t.Fatal("managed save flag lost")
	}
	if x, _ := c.DomainGetXMLDesc(doms[1], 0); strings.Contains(x, "runstate") || strings.Contains(x, "xmlns:test") {
		t.Fatalf("test namespace written back:\n%s", x)
	}
	n, err := c.LookupNetworkByName("private")
	if err != nil || n.UUID.String() != "004b2221-2d78-c30f-5aa5-f03c87d21e69" {
		t.Fatalf("network %+v %v", n, err)
	}
	if _, err := c.LookupInterfaceByMACString("00:11:22:33:44:55"); err != nil {
		t.Fatal(err)
	}
	p, _ := c.LookupStoragePoolByName("pool1")
	vols, _ := c.StoragePoolListAllVolumes(p, 0)
	if len(vols) != 2 || vols[0].Key != "/pool1/v1" || vols[1].Name != "v2" {
		t.Fatalf("volumes %+v", vols)
	}
	if info, _ := c.StoragePoolGetInfo(p); info.Allocation != 1<<20+1000 {
		t.Fatalf("pool info %+v", info)
	}
	if caps, _ := c.Capabilities(); !strings.Contains(caps, "<cells num='0'>\n      </cells>") {
		t.Fatal("node-file instance has NUMA cells")
	}
	// Same path, same instance; the default instance is another one.
	c2 := openURI(t, drv, "test://"+filepath.Join(dir, "node.xml"))
	if c2.instance != c.instance {
		t.Fatal("same node file, different instances")
	}
	if openURI(t, drv, "test:///default").instance == c.instance {
		t.Fatal("node file shares the default instance")
	}
}

// TestConcurrentUse runs readers and writers together for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	c := openDefault(t)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				doms, _ := c.ListAllDomains(0)
				for _, d := range doms {
					c.DomainGetInfo(d)
					c.DomainGetState(d, 0)
				}
			}
		}()
		go func() {
			defer wg.Done()
			d := mustDom(t, c, "test")
			for j := 0; j < 100; j++ {
				c.DomainSuspend(d)
				c.DomainResume(d)
				nd, err := c.DomainDefineXML(demoXML, 0)
				if err == nil {
					c.DomainUndefine(nd, 0)
				}
			}
		}()
	}
	wg.Wait()
}
