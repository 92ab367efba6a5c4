package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQemuDomiftune: virsh domiftune reads an ethernet interface's
// <bandwidth> (which no longer stops the start), --live reshapes the tap
// with tc as libvirt's virNetDevBandwidthSet (ingress police for the
// guest's outbound traffic, htb and sfq for its inbound), or fails with
// tc's error where the kernel lacks those modules (this host lacks both)
// leaving the live XML as it was; --config changes only the definition;
// a user-mode NIC and floor on an ethernet NIC are refused with libvirt's
// errors.
func TestQemuDomiftune(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("tc needs root")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	tap := fmt.Sprintf("gvc2t%d", os.Getpid()%100000)
	const mac = "52:54:00:aa:cc:01"
	const umac = "52:54:00:aa:cc:02"
	xml := testGuestXML(t, "iftune1", "", `    <interface type='ethernet'>
      <mac address='`+mac+`'/>
      <target dev='`+tap+`'/>
      <model type='virtio'/>
      <bandwidth>
        <outbound average='500'/>
      </bandwidth>
    </interface>
    <interface type='user'>
      <mac address='`+umac+`'/>
      <model type='virtio'/>
    </interface>
`)
	path := filepath.Join(dir, "iftune1.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start iftune1")
	tc := func(args ...string) string {
		out, err := exec.Command("tc", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tc %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := mustVirsh(t, uri, "domiftune iftune1 "+mac)
	for _, want := range []string{"inbound.average: 0", "outbound.average: 500", "outbound.peak  : 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("domiftune lacks %q:\n%s", want, out)
		}
	}

	// Outbound changed live, by tap name: an ingress police filter. A
	// kernel without act_police (this host's) fails as libvirt's tc call
	// would, and the live definition keeps the old rates.
	_, errOut, rc := virsh(t, uri, "domiftune iftune1 "+tap+" --outbound 800,,100 --live")
	if rc == 0 {
		if f := tc("filter", "show", "dev", tap, "parent", "ffff:"); !strings.Contains(f, "rate 6400Kbit burst 100Kb") {
			t.Errorf("ingress police filter after domiftune:\n%s", f)
		}
		if x := mustVirsh(t, uri, "dumpxml iftune1"); !strings.Contains(x, "<outbound average='800' burst='100'/>") {
			t.Errorf("live XML:\n%s", x)
		}
	} else {
		if !strings.Contains(errOut, "error: internal error: Child process (tc filter add dev "+tap+" parent ffff: protocol all u32 match u32 0 0 police rate 800kbps burst 100kb mtu 64kb drop flowid :1) unexpected exit status 2") {
			t.Errorf("outbound on a host without act_police: %q", errOut)
		}
		if x := mustVirsh(t, uri, "dumpxml iftune1"); !strings.Contains(x, "<outbound average='500'/>") {
			t.Errorf("a failed change reached the live XML:\n%s", x)
		}
	}
	if x := mustVirsh(t, uri, "dumpxml --inactive iftune1"); !strings.Contains(x, "<outbound average='500'/>") {
		t.Errorf("a live change reached the definition:\n%s", x)
	}

	// Inbound live, outbound cleared: an htb class with an sfq leaf; a
	// kernel without sch_sfq fails at that step.
	_, errOut, rc = virsh(t, uri, "domiftune iftune1 "+mac+" --inbound 1000,2000,256 --outbound 0 --live")
	if rc == 0 {
		if q := tc("qdisc", "show", "dev", tap); !strings.Contains(q, "qdisc htb 1: root") {
			t.Errorf("qdiscs after adding inbound:\n%s", q)
		}
		if c := tc("class", "show", "dev", tap); !strings.Contains(c, "rate 8Mbit ceil 16Mbit burst 256Kb") {
			t.Errorf("htb class:\n%s", c)
		}
		if x := mustVirsh(t, uri, "dumpxml iftune1"); !strings.Contains(x, "<inbound average='1000' peak='2000' burst='256'/>") || strings.Contains(x, "<outbound") {
			t.Errorf("live XML:\n%s", x)
		}
	} else {
		if !strings.Contains(errOut, "error: internal error: Child process (tc qdisc add dev "+tap+" parent 1:1 handle 2: sfq perturb 10) unexpected exit status 2") {
			t.Errorf("inbound on a host without sfq: %q", errOut)
		}
		if x := mustVirsh(t, uri, "dumpxml iftune1"); strings.Contains(x, "<inbound") {
			t.Errorf("a failed change reached the live XML:\n%s", x)
		}
	}

	// --config only, merged with the definition's outbound.
	mustVirsh(t, uri, "domiftune iftune1 "+mac+" --inbound 300,400 --config")
	if x := mustVirsh(t, uri, "dumpxml --inactive iftune1"); !strings.Contains(x, "<inbound average='300' peak='400'/>") ||
		!strings.Contains(x, "<outbound average='500'/>") {
		t.Errorf("persistent XML:\n%s", x)
	}

	// libvirt's refusals.
	_, errOut, rc = virsh(t, uri, "domiftune iftune1 "+umac+" --inbound 100 --live")
	if rc == 0 || !strings.Contains(errOut, "error: unsupported configuration: setting bandwidth on interfaces of type 'user' is not implemented yet") {
		t.Errorf("user NIC: rc=%d %q", rc, errOut)
	}
	_, errOut, rc = virsh(t, uri, "domiftune iftune1 "+mac+" --inbound 100,,,20 --live")
	if rc == 0 || !strings.Contains(errOut, "Invalid use of 'floor' on interface with MAC address "+mac) {
		t.Errorf("floor on ethernet: rc=%d %q", rc, errOut)
	}
	_, errOut, rc = virsh(t, uri, "domiftune iftune1 nosuch")
	if rc == 0 || !strings.Contains(errOut, "error: invalid argument: 'nosuch' is not a known interface") {
		t.Errorf("unknown interface: rc=%d %q", rc, errOut)
	}
}
