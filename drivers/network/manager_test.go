package network

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"govirt/driver"
	"govirt/virerr"
)

type busRec struct {
	mu  sync.Mutex
	evs []driver.NetworkEvent
}

func (b *busRec) Publish(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.evs = append(b.evs, ev.(driver.NetworkEvent))
}

func (b *busRec) events() []int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int32
	for _, e := range b.evs {
		out = append(out, e.Event)
	}
	return out
}

func newTestManager(t *testing.T, dir string) (*Manager, *busRec) {
	bus := &busRec{}
	return New(Config{StateDir: filepath.Join(dir, "state"), RunDir: filepath.Join(dir, "run"), Bus: bus}), bus
}

// Forward mode bridge uses an existing host bridge: starting it changes
// nothing on the host, so the whole lifecycle runs unprivileged.
const hostBridgeXML = `<network>
  <name>host</name>
  <uuid>0b6a4d6a-0a4f-4f57-9a3c-6a3e1f0f6a11</uuid>
  <forward mode='bridge'/>
  <bridge name='br-host'/>
</network>`

func TestLifecycleHostBridge(t *testing.T) {
	dir := t.TempDir()
	m, bus := newTestManager(t, dir)
	n, err := m.NetworkDefineXML(hostBridgeXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.NetworkSetAutostart(n, true); err != nil {
		t.Fatal(err)
	}
	if err := m.NetworkCreate(n); err != nil {
		t.Fatal(err)
	}
	if err := m.NetworkCreate(n); err == nil || !strings.Contains(err.Error(), "network is already active") {
		t.Fatalf("second start: %v", err)
	}
	if br, err := m.ActiveBridge("host"); err != nil || br != "br-host" {
		t.Fatalf("ActiveBridge = %q, %v", br, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "host.xml")); err != nil {
		t.Fatalf("no status file: %v", err)
	}

	// A new manager on the same directories (a restarted daemon) finds
	// the network active, persistent and autostarted.
	m2, _ := newTestManager(t, dir)
	list, _ := m2.ListAllNetworks(listActive | listAutostart | listPersistent)
	if len(list) != 1 || list[0] != n {
		t.Fatalf("after reload: %v", list)
	}
	if err := m2.NetworkDestroy(n); err != nil {
		t.Fatal(err)
	}
	if err := m2.NetworkDestroy(n); err == nil || !strings.Contains(err.Error(), "network 'host' is not active") {
		t.Fatalf("second destroy: %v", err)
	}
	if _, err := m2.ActiveBridge("host"); err == nil || !strings.Contains(err.Error(), "network 'host' is not active") {
		t.Fatalf("ActiveBridge of inactive: %v", err)
	}
	if err := m2.NetworkUndefine(n); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.LookupNetworkByName("host"); !errors.Is(err, virerr.Sentinel(virerr.ErrNoNetwork)) {
		t.Fatalf("lookup after undefine: %v", err)
	}
	for _, p := range []string{"state/host.xml", "state/autostart/host", "run/host.xml"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	want := []int32{driver.NetworkEventDefined, driver.NetworkEventStarted}
	if got := bus.events(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("events of the first manager: %v", got)
	}
}

func TestDefineDefaults(t *testing.T) {
	m, _ := newTestManager(t, t.TempDir())
	a, err := m.NetworkDefineXML(`<network><name>a</name><bridge name='gvtest%d'/><ip address='10.1.0.1' prefix='24'/></network>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	br, _ := m.NetworkGetBridgeName(a)
	if br != "gvtest0" {
		t.Fatalf("bridge of a = %q", br)
	}
	b, err := m.NetworkDefineXML(`<network><name>b</name><bridge name='gvtest%d'/></network>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if br, _ := m.NetworkGetBridgeName(b); br != "gvtest1" {
		t.Fatalf("bridge of b = %q", br)
	}
	_, err = m.NetworkDefineXML(`<network><name>c</name><bridge name='gvtest0'/></network>`, 0)
	if err == nil || !strings.Contains(err.Error(), "bridge name 'gvtest0' already in use.") {
		t.Fatalf("clash: %v", err)
	}
	xml, _ := m.NetworkGetXMLDesc(a, 0)
	if !strings.Contains(xml, "<mac address='52:54:00:") {
		t.Fatalf("no MAC:\n%s", xml)
	}
	// Redefining keeps the bridge and MAC.
	xml2 := strings.Replace(xml, "<bridge name='gvtest0' stp='on' delay='0'/>", "", 1)
	mac := xml[strings.Index(xml, "<mac"):]
	mac = mac[:strings.Index(mac, "/>")]
	xml2 = strings.Replace(xml2, mac+"/>", "", 1)
	if _, err := m.NetworkDefineXML(xml2, 0); err != nil {
		t.Fatal(err)
	}
	if again, _ := m.NetworkGetXMLDesc(a, 0); again != xml {
		t.Fatalf("redefinition changed the network:\n%s\nwas\n%s", again, xml)
	}
	if _, err := m.NetworkDefineXML(`<network><name>x/y</name></network>`, 0); err == nil {
		t.Fatal("a name with / was accepted")
	}
}

func TestForwardModeUnsupported(t *testing.T) {
	m, _ := newTestManager(t, t.TempDir())
	n, err := m.NetworkDefineXML(`<network><name>d</name><forward mode='passthrough'><interface dev='eth9'/></forward></network>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.NetworkCreate(n); !errors.Is(err, virerr.Sentinel(virerr.ErrConfigUnsupported)) {
		t.Fatalf("start: %v", err)
	}
}

// net-create of a defined network runs the given definition and keeps the
// persistent one for after it stops.
func TestCreateOverPersistent(t *testing.T) {
	m, _ := newTestManager(t, t.TempDir())
	n, err := m.NetworkDefineXML(hostBridgeXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(hostBridgeXML, "br-host", "br-other", 1)
	if _, err := m.NetworkCreateXML(other, 0); err != nil {
		t.Fatal(err)
	}
	if br, _ := m.ActiveBridge("host"); br != "br-other" {
		t.Fatalf("running bridge %q", br)
	}
	if err := m.NetworkDestroy(n); err != nil {
		t.Fatal(err)
	}
	if xml, _ := m.NetworkGetXMLDesc(n, 0); !strings.Contains(xml, "br-host") {
		t.Fatalf("persistent definition lost:\n%s", xml)
	}
	if ok, _ := m.NetworkIsPersistent(n); !ok {
		t.Fatal("not persistent any more")
	}
}
