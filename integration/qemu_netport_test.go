package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Network ports (issue 17): a running guest's NIC on a virtual network
// holds a port of that network, which virsh's net-port-* commands show,
// compared side by side with libvirtd 9.0 running a guest on a network
// of its own (another name, bridge and subnet: it lives in this host's
// namespace, govirtd's in a private one).

const portNetXML = `<network>
  <name>%s</name>
  <bridge name='%s'/>
  <ip address='%s' prefix='24'/>
</network>
`

const portNIC = `    <interface type='network'>
      <mac address='52:54:00:5a:17:01'/>
      <source network='%s'/>
      <model type='virtio'/>
    </interface>
`

const portCreateXML = `<networkport>
  <uuid>%s</uuid>
  <owner>
    <name>someone</name>
    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>
  </owner>
  <mac address='52:54:00:7B:35:93'/>
  <bandwidth>
    <inbound average='1000' peak='4000' burst='1024'/>
    <outbound average='128'/>
  </bandwidth>
</networkport>
`

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// portSide is one daemon of the comparison.
type portSide struct {
	uri, net, bridge, guest string
}

// norm makes one side's output comparable: its names become fixed words
// and UUIDs (other than the fixed ones of the test) a placeholder.
func (s portSide) norm(out string) string {
	out = strings.ReplaceAll(out, s.guest, "GUEST")
	out = strings.ReplaceAll(out, s.net, "NET")
	out = strings.ReplaceAll(out, s.bridge, "BRIDGE")
	return uuidRE.ReplaceAllStringFunc(out, func(u string) string {
		if strings.HasPrefix(u, "5d744f21-") || strings.HasPrefix(u, "d54df46f-") {
			return u
		}
		return "UUID"
	})
}

func (s portSide) run(t *testing.T, cmd string) (string, string, int) {
	t.Helper()
	cmd = strings.NewReplacer("@NET", s.net, "@GUEST", s.guest).Replace(cmd)
	out, e, rc := virsh(t, s.uri, cmd)
	return s.norm(out), s.norm(e), rc
}

// portOf is the UUID of the single port a net-port-list shows.
func portOf(t *testing.T, s portSide) string {
	t.Helper()
	out := mustVirsh(t, s.uri, "net-port-list "+s.net+" --uuid")
	ids := strings.Fields(out)
	if len(ids) != 1 {
		t.Fatalf("%s: net-port-list: %q", s.uri, out)
	}
	return ids[0]
}

func TestQEMUNetworkPorts(t *testing.T) {
	needQEMU(t)
	d, ns := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	gv := portSide{uri: d.URI("qemu"), net: "gvports", bridge: "gvpbr0", guest: "portguest"}
	sides := []portSide{gv}
	if libvirtdUp() {
		lv := portSide{uri: libvirtdURI, net: fmt.Sprintf("gvports-lv%d", os.Getpid()), bridge: "gvplv0", guest: "gvq-portguest"}
		// An earlier run killed half-way may have left these behind.
		virsh(t, lv.uri, "destroy "+lv.guest)
		virsh(t, lv.uri, "net-destroy "+lv.net)
		if _, e, rc := virsh(t, lv.uri, "net-create "+writeTemp(t, "lvnet.xml", fmt.Sprintf(portNetXML, lv.net, lv.bridge, "10.233.71.1"))); rc != 0 {
			t.Logf("libvirtd cannot start the network, no comparison: %s", e)
		} else {
			t.Cleanup(func() { virsh(t, lv.uri, "net-destroy "+lv.net) })
			sides = append(sides, lv)
		}
	} else {
		t.Log("libvirtd not reachable: govirtd alone")
	}
	mustVirsh(t, gv.uri, "net-create "+writeTemp(t, "gvnet.xml", fmt.Sprintf(portNetXML, gv.net, gv.bridge, "10.233.70.1")))

	// compare runs a command on every side and wants the same answer;
	// the lines of a list are compared in sorted order (libvirt's is its
	// hash table's).
	compareAs := func(cmd string, sorted bool) (string, string, int) {
		t.Helper()
		run := func(s portSide) (string, string, int) {
			out, e, rc := s.run(t, cmd)
			if sorted {
				lines := strings.Split(out, "\n")
				slices.Sort(lines)
				out = strings.Join(lines, "\n")
			}
			return out, e, rc
		}
		out, e, rc := run(sides[0])
		for _, s := range sides[1:] {
			o2, e2, rc2 := run(s)
			if o2 != out || e2 != e || rc2 != rc {
				t.Errorf("%s:\ngovirtd  rc=%d %q %q\nlibvirtd rc=%d %q %q", cmd, rc, out, e, rc2, o2, e2)
			}
		}
		return out, e, rc
	}
	compare := func(cmd string) (string, string, int) { t.Helper(); return compareAs(cmd, false) }

	compare("net-port-list @NET")
	for i, s := range sides {
		path := filepath.Join(t.TempDir(), s.guest+".xml")
		if err := os.WriteFile(path, []byte(testGuestXML(t, s.guest, "", fmt.Sprintf(portNIC, s.net))), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, e, rc := virsh(t, s.uri, "create "+path); rc != 0 {
			if i == 0 {
				t.Fatalf("create: %s", e)
			}
			t.Logf("libvirtd cannot run the guest, no comparison: %s", e)
			sides = sides[:1]
			break
		}
		if i > 0 {
			t.Cleanup(func() { virsh(t, s.uri, "destroy "+s.guest) })
		}
	}

	t.Logf("compared on %d daemons", len(sides))
	out, _, _ := compare("net-port-list @NET")
	if !strings.Contains(out, "UUID") {
		t.Fatalf("net-port-list shows no port:\n%s", out)
	}
	compare("net-port-list @NET --uuid")
	compare("net-port-list @NET --table")
	// The port names its owner and plugs into the network's bridge; the
	// guest's live XML names the port.
	var gvPort string
	for _, s := range sides {
		id := portOf(t, s)
		if s.uri == gv.uri {
			gvPort = id
		}
		x := mustVirsh(t, s.uri, "net-port-dumpxml "+s.net+" "+id)
		want := fmt.Sprintf("<networkport>\n  <uuid>%s</uuid>\n  <owner>\n    <name>%s</name>\n", id, s.guest)
		if !strings.HasPrefix(x, want) || !strings.Contains(x, "<mac address='52:54:00:5a:17:01'/>") ||
			!strings.Contains(x, "<plug type='network' bridge='"+s.bridge+"'/>") {
			t.Errorf("%s: net-port-dumpxml:\n%s", s.uri, x)
		}
		live := mustVirsh(t, s.uri, "dumpxml "+s.guest)
		if !strings.Contains(live, fmt.Sprintf("<source network='%s' portid='%s' bridge='%s'/>", s.net, id, s.bridge)) {
			t.Errorf("%s: live XML does not name the port %s:\n%s", s.uri, id, live)
		}
		if inactive := mustVirsh(t, s.uri, "dumpxml --inactive "+s.guest); strings.Contains(inactive, "portid") {
			t.Errorf("%s: inactive XML has a portid:\n%s", s.uri, inactive)
		}
	}
	dump := func(s portSide) string {
		return s.norm(mustVirsh(t, s.uri, "net-port-dumpxml "+s.net+" "+portOf(t, s)))
	}
	if len(sides) > 1 {
		if a, b := dump(sides[0]), dump(sides[1]); a != b {
			t.Errorf("net-port-dumpxml:\ngovirtd\n%s\nlibvirtd\n%s", a, b)
		}
	}
	if out, err := inNetns(ns, "ls", "/sys/class/net/"+gv.bridge+"/brif"); err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("no tap in %s: %v %s", gv.bridge, err, out)
	}

	// net-port-create makes a port of plug type none, net-port-delete
	// removes it; errors as libvirt's.
	const fixed = "5d744f21-ba4a-4d6e-bdb2-30a35ff3207d"
	var portFile = writeTemp(t, "port.xml", fmt.Sprintf(portCreateXML, fixed))
	for _, s := range sides {
		virsh(t, s.uri, "net-port-delete "+s.net+" "+fixed) // left by a killed run
	}
	compare("net-port-create @NET " + portFile)
	compare("net-port-dumpxml @NET " + fixed)
	compare("net-port-create @NET " + portFile)
	compareAs("net-port-list @NET --uuid", true)
	compare("net-port-delete @NET " + fixed)
	compare("net-port-dumpxml @NET " + fixed)
	compare("net-port-delete @NET " + fixed)
	compare("net-port-dumpxml @NET not-a-uuid")
	compare("net-port-create @NET " + writeTemp(t, "plugged.xml", strings.Replace(fmt.Sprintf(portCreateXML, fixed), "</networkport>", "  <plug type='network' bridge='x'/>\n</networkport>", 1)))
	compare("net-port-create @NET " + writeTemp(t, "nouuid.xml", "<networkport/>"))
	compare("net-port-create @NET " + writeTemp(t, "floor.xml", strings.Replace(fmt.Sprintf(portCreateXML, fixed), "peak='4000'", "floor='200'", 1)))
	compare("net-port-list nosuchnet")

	// Port parameters through the Python binding (virsh has no command
	// for them): the rates are the port's bandwidth, a floor needs the
	// network's inbound QoS.
	script := writeTemp(t, "params.py", `import sys, libvirt
c = libvirt.open(sys.argv[1])
n = c.networkLookupByName(sys.argv[2])
def show(p):
    print(sorted(p.parameters().items()))
p = n.portCreateXML(open(sys.argv[3]).read())
show(p)
p.setParameters({"inbound.average": 500, "inbound.burst": 64, "outbound.average": 300, "outbound.peak": 600})
show(p)
print(n.portLookupByUUIDString(p.UUIDString()).UUIDString() == p.UUIDString())
print("<inbound average='500' burst='64'/>" in p.XMLDesc(), "<outbound average='300' peak='600'/>" in p.XMLDesc())
try:
    p.setParameters({"inbound.average": 500, "inbound.floor": 100})
except libvirt.libvirtError as e:
    print("floor:", e.get_error_code(), e.get_error_domain(), e.get_error_message())
p.setParameters({"outbound.average": 7})
show(p)
p.delete()
`)
	var outs [][]string
	for _, s := range sides {
		outs = append(outs, pythonStdout(t, script, s.uri, s.net, portFile))
	}
	want := []string{"[('inbound.average', 1000), ('inbound.burst', 1024), ('inbound.floor', 0), ('inbound.peak', 4000), ('outbound.average', 128), ('outbound.burst', 0), ('outbound.peak', 0)]",
		"[('inbound.average', 500), ('inbound.burst', 64), ('inbound.floor', 0), ('inbound.peak', 0), ('outbound.average', 300), ('outbound.burst', 0), ('outbound.peak', 600)]",
		"True", "True True",
		"floor: 84 19 Operation not supported: Invalid use of 'floor' on interface with MAC address 52:54:00:7b:35:93 - network '" + gv.net + "' has no inbound QoS set",
		"[('outbound.average', 7), ('outbound.burst', 0), ('outbound.peak', 0)]"}
	if strings.Join(outs[0], "\n") != strings.Join(want, "\n") {
		t.Errorf("port parameters on govirtd:\n%s\nwant\n%s", strings.Join(outs[0], "\n"), strings.Join(want, "\n"))
	}
	if len(outs) > 1 {
		a := strings.ReplaceAll(strings.Join(outs[0], "\n"), gv.net, "NET")
		b := strings.ReplaceAll(strings.Join(outs[1], "\n"), sides[1].net, "NET")
		if a != b {
			t.Errorf("port parameters:\ngovirtd\n%s\nlibvirtd\n%s", a, b)
		}
	}

	// A restarted govirtd keeps the port (its status file in the run
	// directory) and the guest's link to it.
	d.crashRestart()
	if id := portOf(t, gv); id != gvPort {
		t.Errorf("after restart the port is %s, was %s", id, gvPort)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "run", "network", gv.net, "ports", gvPort+".xml")); err != nil {
		t.Errorf("port status file: %v", err)
	}

	// A hot-plugged NIC gets a port of its own, an unplugged one gives
	// it back; a stopped guest gives back all.
	mustVirsh(t, gv.uri, "attach-interface "+gv.guest+" network "+gv.net+" --model virtio --mac 52:54:00:5a:17:02")
	if n := len(strings.Fields(mustVirsh(t, gv.uri, "net-port-list "+gv.net+" --uuid"))); n != 2 {
		t.Errorf("after attach-interface: %d ports", n)
	}
	for _, s := range sides {
		mustVirsh(t, s.uri, "destroy "+s.guest)
	}
	compare("net-port-list @NET")
	if n := len(strings.Fields(mustVirsh(t, gv.uri, "net-port-list "+gv.net+" --uuid"))); n != 0 {
		t.Errorf("after destroy: %d ports", n)
	}
	// A destroyed network takes its ports (and their files) along.
	mustVirsh(t, gv.uri, "net-port-create "+gv.net+" "+portFile)
	mustVirsh(t, gv.uri, "net-destroy "+gv.net)
	if _, err := os.Stat(filepath.Join(d.dir, "run", "network", gv.net)); !os.IsNotExist(err) {
		t.Errorf("port directory left after net-destroy: %v", err)
	}
}

// TestNetworkPortFloor: on a network with an inbound QoS, a port's
// 'floor' gets a class of its own in the bridge's htb tree (libvirt's
// networkPlugBandwidth), floors may not overcommit the network's peak,
// and changing or dropping the floor (port parameters) and deleting the
// port update the tree; the API's answers are compared with libvirtd's
// on a network of its own.
func TestNetworkPortFloor(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc not installed")
	}
	d, ns := netnsDaemon(t)
	const qosNet = `<network>
  <name>%s</name>
  <bridge name='%s'/>
  <bandwidth>
    <inbound average='1000' peak='2000' burst='64'/>
    <outbound average='500'/>
  </bandwidth>
  <ip address='%s' prefix='24'/>
</network>
`
	type side struct{ uri, net, bridge string }
	sides := []side{{d.URI("qemu"), "gvqos", "gvqbr0"}}
	_, gvErr, gvRC := virsh(t, sides[0].uri, "net-create "+writeTemp(t, "gv.xml", fmt.Sprintf(qosNet, "gvqos", "gvqbr0", "10.233.72.1")))
	if libvirtdUp() {
		lv := side{libvirtdURI, fmt.Sprintf("gvqos-lv%d", os.Getpid()), "gvqlv0"}
		virsh(t, lv.uri, "net-destroy "+lv.net)
		_, lvErr, lvRC := virsh(t, lv.uri, "net-create "+writeTemp(t, "lv.xml", fmt.Sprintf(qosNet, lv.net, lv.bridge, "10.233.73.1")))
		if lvRC == 0 {
			t.Cleanup(func() { virsh(t, lv.uri, "net-destroy "+lv.net) })
			sides = append(sides, lv)
		}
		norm := func(e, br string) string {
			e = strings.ReplaceAll(e, br, "BR")
			return regexp.MustCompile(`from /tmp/\S+`).ReplaceAllString(e, "from FILE")
		}
		if gvRC != lvRC || norm(gvErr, "gvqbr0") != norm(lvErr, lv.bridge) {
			t.Errorf("net-create with <bandwidth>:\ngovirtd  rc=%d %q\nlibvirtd rc=%d %q", gvRC, gvErr, lvRC, lvErr)
		}
	}
	if gvRC != 0 {
		// libvirt's QoS tree needs sch_htb and sch_sfq; a kernel without
		// them fails the start with tc's error, as libvirtd does.
		if strings.Contains(gvErr, "Specified qdisc kind is unknown") {
			t.Skipf("this host's kernel lacks a qdisc libvirt's network QoS needs (the start fails as libvirtd's): %s", strings.TrimSpace(gvErr))
		}
		t.Fatalf("net-create: %s", gvErr)
	}
	tcClasses := func() string {
		out, _ := inNetns(ns, "tc", "class", "show", "dev", "gvqbr0")
		return out
	}
	if c := tcClasses(); !strings.Contains(c, "class htb 1:1 root") || !strings.Contains(c, "class htb 1:2 parent 1:1") {
		t.Fatalf("network QoS classes:\n%s", c)
	}
	port := func(u, mac, floor string) string {
		return fmt.Sprintf(`<networkport><uuid>%s</uuid><owner><name>g</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>
<mac address='%s'/><bandwidth><inbound average='100' floor='%s'/></bandwidth></networkport>`, u, mac, floor)
	}
	p1 := writeTemp(t, "p1.xml", port("5d744f21-ba4a-4d6e-bdb2-30a35ff32071", "52:54:00:5a:17:11", "300"))
	p2 := writeTemp(t, "p2.xml", port("5d744f21-ba4a-4d6e-bdb2-30a35ff32072", "52:54:00:5a:17:12", "1800"))
	script := writeTemp(t, "floor.py", `import sys, libvirt
c = libvirt.open(sys.argv[1])
n = c.networkLookupByName(sys.argv[2])
def err(f):
    try:
        f()
        print("ok")
    except libvirt.libvirtError as e:
        print(e.get_error_code(), e.get_error_domain(), e.get_error_message().replace(sys.argv[2], "NET").replace(sys.argv[5], "BR"))
p = n.portCreateXML(open(sys.argv[3]).read())
print("<bandwidth classID='3'>" in p.XMLDesc())
err(lambda: n.portCreateXML(open(sys.argv[4]).read()))
print(sorted(p.parameters().items()))
input("floor 300 plugged")
err(lambda: p.setParameters({"inbound.average": 100, "inbound.floor": 1900}))
err(lambda: p.setParameters({"inbound.average": 100, "inbound.floor": 500}))
print(sorted(p.parameters().items()))
input("floor 500")
err(lambda: p.setParameters({"inbound.average": 100}))
print("classID" in p.XMLDesc())
input("floor dropped")
p.delete()
print("done")
`)
	var outs []string
	for i, s := range sides {
		cmd := exec.Command("/usr/bin/python3", script, s.uri, s.net, p1, p2, s.bridge)
		stdin, _ := cmd.StdinPipe()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The tc tree at each pause (govirtd's, in its namespace).
		wait := func(marker string) {
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(out.String(), marker) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
		check := func(want, notWant string) {
			if i != 0 {
				return
			}
			c := tcClasses()
			if want != "" && !strings.Contains(c, want) || notWant != "" && strings.Contains(c, notWant) {
				t.Errorf("tc classes (want %q, not %q):\n%s", want, notWant, c)
			}
		}
		wait("floor 300 plugged")
		check("class htb 1:3 parent 1:1 leaf 3: prio 0 rate 2400Kbit ceil 16Mbit", "")
		stdin.Write([]byte("\n"))
		wait("floor 500")
		check("class htb 1:3 parent 1:1 leaf 3: prio 0 rate 4Mbit ceil 16Mbit", "")
		stdin.Write([]byte("\n"))
		wait("floor dropped")
		check("", "1:3")
		stdin.Write([]byte("\n"))
		cmd.Wait()
		outs = append(outs, out.String())
	}
	t.Logf("govirtd:\n%s", outs[0])
	if !strings.Contains(outs[0], "would overcommit peak=2000 on network 'NET'") || !strings.HasSuffix(outs[0], "done\n") {
		t.Errorf("govirtd:\n%s", outs[0])
	}
	if len(outs) > 1 && outs[0] != outs[1] {
		t.Errorf("port floors:\ngovirtd\n%s\nlibvirtd\n%s", outs[0], outs[1])
	}
}
