package nwfilter

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/driver"
	"govirt/virerr"
)

func newTestManager(t *testing.T, dir string, ports map[string]bool, tech Tech) *Manager {
	t.Helper()
	return New(Config{
		Dir: filepath.Join(dir, "nwfilter"), BindingDir: filepath.Join(dir, "nwfilter-binding"),
		Privileged: true, Tech: tech, PortExists: func(n string) bool { return ports[n] },
	})
}

func wantErr(t *testing.T, err error, code virerr.Code, msg string) {
	t.Helper()
	e, ok := err.(*virerr.Error)
	if !ok || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("got %v, want code %d with %q", err, code, msg)
	}
}

// TestShippedFilters: a fresh state directory holds the filters libvirt
// ships, with UUIDs that survive a restart.
func TestShippedFilters(t *testing.T) {
	dir := t.TempDir()
	m := newTestManager(t, dir, nil, nil)
	list, err := m.ListAllNWFilters(0)
	if err != nil || len(list) != 24 {
		t.Fatalf("got %d filters (%v), want libvirt's 24", len(list), err)
	}
	ct, err := m.LookupNWFilterByName("clean-traffic")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := m.NWFilterGetXMLDesc(ct, 0)
	if !strings.HasPrefix(x, "<filter name='clean-traffic' chain='root'>\n  <uuid>") || !strings.Contains(x, "<filterref filter='no-mac-spoofing'/>") {
		t.Fatalf("clean-traffic:\n%s", x)
	}
	m2 := newTestManager(t, dir, nil, nil)
	ct2, err := m2.LookupNWFilterByName("clean-traffic")
	if err != nil || ct2.UUID != ct.UUID {
		t.Fatalf("after restart: %v %v, want uuid %s", ct2, err, ct.UUID)
	}
	// An undefined shipped filter stays undefined.
	if err := m2.NWFilterUndefine(ct2); err != nil {
		t.Fatal(err)
	}
	m3 := newTestManager(t, dir, nil, nil)
	if _, err := m3.LookupNWFilterByName("clean-traffic"); err == nil {
		t.Fatal("clean-traffic came back")
	}
}

func TestDefineErrors(t *testing.T) {
	m := newTestManager(t, t.TempDir(), nil, nil)
	a := `<filter name='a'><uuid>11111111-2222-3333-4444-555555555555</uuid><filterref filter='b'/></filter>`
	if _, err := m.NWFilterDefineXML(a, 0); err != nil {
		t.Fatal(err)
	}
	_, err := m.NWFilterDefineXML(`<filter name='b'><filterref filter='a'/></filter>`, 0)
	wantErr(t, err, virerr.ErrOperationFailed, "filter would introduce a loop")
	_, err = m.NWFilterDefineXML(`<filter name='c'><uuid>11111111-2222-3333-4444-555555555555</uuid></filter>`, 0)
	wantErr(t, err, virerr.ErrOperationFailed, "filter with same UUID but different name ('a') already exists")
	_, err = m.NWFilterDefineXML(`<filter name='a'/>`, 0)
	wantErr(t, err, virerr.ErrOperationFailed, "filter 'a' already exists with uuid 11111111-2222-3333-4444-555555555555")
	_, err = m.NWFilterDefineXML(`<filter name='a'/>`, 2)
	wantErr(t, err, virerr.ErrInvalidArg, "unsupported flags (0x2) in function nwfilterDefineXMLFlags")
	_, err = m.NWFilterDefineXML(`<filter name='d'><rule action='accept' direction='in'><bogus/></rule><foo/></filter>`, DefineValidate)
	wantErr(t, err, virerr.ErrXMLInvalidSchema, "Element rule has extra content: bogus")
	_, err = m.NWFilterDefineXML(`<filter name='d' chain='foo'/>`, 0)
	wantErr(t, err, virerr.ErrInvalidArg, "Invalid chain name 'foo'. Please use a chain name called 'root' or any of the following prefixes: mac, vlan, stp, arp, rarp, ipv4, ipv6")
	_, err = m.NWFilterDefineXML(`<network/>`, 0)
	wantErr(t, err, virerr.ErrXMLError, "expecting root element of 'filter', not 'network'")
}

type fakeTech struct{ applied map[string][]*InstRule }

func (f *fakeTech) Apply(b *Binding, rules []*InstRule) error {
	f.applied[b.PortDev] = rules
	return nil
}
func (f *fakeTech) Teardown(dev string) error { delete(f.applied, dev); return nil }

const bindingXML = `<filterbinding>
  <owner>
    <name>memtest</name>
    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>
  </owner>
  <portdev name='vnet0'/>
  <mac address='52:54:00:7b:35:93'/>
  <filterref filter='clean-traffic'>
    <parameter name='IP' value='10.0.0.2'/>
  </filterref>
</filterbinding>
`

// TestBindings: a binding on an existing port is instantiated (its MAC
// becomes the MAC variable), kept over a restart, blocks undefining its
// filters and goes with its rules.
func TestBindings(t *testing.T) {
	dir := t.TempDir()
	tech := &fakeTech{applied: map[string][]*InstRule{}}
	ports := map[string]bool{"vnet0": true}
	m := newTestManager(t, dir, ports, tech)
	h, err := m.NWFilterBindingCreateXML(bindingXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h != (driver.NWFilterBinding{PortDev: "vnet0", Filter: "clean-traffic"}) {
		t.Fatalf("handle %+v", h)
	}
	if n := len(tech.applied["vnet0"]); n < 10 {
		t.Fatalf("%d rules applied", n)
	}
	x, _ := m.NWFilterBindingGetXMLDesc(h, 0)
	if !strings.Contains(x, "<parameter name='MAC' value='52:54:00:7b:35:93'/>") {
		t.Fatalf("binding:\n%s", x)
	}
	_, err = m.NWFilterBindingCreateXML(bindingXML, 0)
	wantErr(t, err, virerr.ErrOperationFailed, "binding 'vnet0' already exists")
	f, _ := m.LookupNWFilterByName("no-mac-spoofing")
	wantErr(t, m.NWFilterUndefine(f), virerr.ErrOperationInvalid, "nwfilter is in use")

	tech2 := &fakeTech{applied: map[string][]*InstRule{}}
	m2 := newTestManager(t, dir, ports, tech2)
	if len(tech2.applied["vnet0"]) != len(tech.applied["vnet0"]) {
		t.Fatal("binding not applied again after a restart")
	}
	if err := m2.NWFilterBindingDelete(h); err != nil {
		t.Fatal(err)
	}
	if _, ok := tech2.applied["vnet0"]; ok {
		t.Fatal("rules kept")
	}
	_, err = m2.LookupNWFilterBindingByPortDev("vnet0")
	wantErr(t, err, virerr.ErrNoNwfilterBinding, "no nwfilter binding for port dev 'vnet0'")
	// Without IP and with learning off, libvirt names the variable.
	_, err = m2.NWFilterBindingCreateXML(strings.Replace(bindingXML, "<parameter name='IP' value='10.0.0.2'/>", "<parameter name='CTRL_IP_LEARNING' value='none'/>", 1), 0)
	wantErr(t, err, virerr.ErrInternalError, "Cannot instantiate filter due to unresolvable variables or unavailable list elements: IP")
	// A binding on a missing port is kept without rules, as libvirt.
	if _, err := m2.NWFilterBindingCreateXML(strings.Replace(bindingXML, "vnet0", "vnet9", 1), 0); err != nil {
		t.Fatal(err)
	}
}

// TestBindingXML2XML runs libvirt's virnwfilterbindingxml2xmltest data.
func TestBindingXML2XML(t *testing.T) {
	files, _ := filepath.Glob("testdata/bindingxml2xml/*.xml")
	if len(files) == 0 {
		t.Fatal("no data")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseBinding(data, 0)
		if err != nil {
			t.Fatal(f, err)
		}
		if got := b.Format(); got != string(data) {
			t.Errorf("%s: got\n%s", f, got)
		}
	}
}

// TestLearnIP: a binding whose filters need IP gets its rules once the
// address is learned, with IP added to its variables.
func TestLearnIP(t *testing.T) {
	learnInterval = 10 * time.Millisecond
	tech := &lockedTech{fakeTech: fakeTech{applied: map[string][]*InstRule{}}}
	var mu sync.Mutex
	asked := 0
	m := New(Config{
		Dir: filepath.Join(t.TempDir(), "f"), BindingDir: filepath.Join(t.TempDir(), "b"), Privileged: true, Tech: tech,
		PortExists: func(string) bool { return true },
		LearnIP: func(b *Binding) (string, bool) {
			mu.Lock()
			defer mu.Unlock()
			asked++
			if asked < 3 {
				return "", false
			}
			return "10.0.0.7", true
		},
	})
	h, err := m.NWFilterBindingCreateXML(strings.Replace(bindingXML, "<parameter name='IP' value='10.0.0.2'/>", "", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := tech.count("vnet0"); n != 0 {
		t.Fatalf("%d rules applied before the IP is known", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tech.count("vnet0") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("rules not applied after learning")
		}
		time.Sleep(10 * time.Millisecond)
	}
	x, _ := m.NWFilterBindingGetXMLDesc(h, 0)
	if !strings.Contains(x, "<parameter name='IP' value='10.0.0.7'/>") {
		t.Fatalf("binding:\n%s", x)
	}
	if err := m.NWFilterBindingDelete(h); err != nil {
		t.Fatal(err)
	}
}

type lockedTech struct {
	mu sync.Mutex
	fakeTech
}

func (l *lockedTech) Apply(b *Binding, rules []*InstRule) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeTech.Apply(b, rules)
}

func (l *lockedTech) Teardown(dev string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeTech.Teardown(dev)
}

func (l *lockedTech) count(dev string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.applied[dev])
}
