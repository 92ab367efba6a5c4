package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A network start stuck in a slow dnsmasq: virsh net-list, net-info and
// net-dumpxml answer while it runs, and another network starts and stops;
// the busy network is active once dnsmasq is up.
func TestNetworkSlowDnsmasqDoesNotBlockReads(t *testing.T) {
	real, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("dnsmasq not installed")
	}
	tools := t.TempDir()
	if err := os.Chmod(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	// Only gvslow's dnsmasq is held back (its configuration file names it).
	script := fmt.Sprintf("#!/bin/sh\ncase \"$*\" in *gvslow.conf*)\n touch %[1]s/started\n"+
		" while [ ! -e %[1]s/gate ]; do sleep 0.05; done;;\nesac\nexec %[2]s \"$@\"\n", tools, real)
	if err := os.WriteFile(filepath.Join(tools, "dnsmasq"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d, _ := netnsDaemonEnv(t, "PATH="+tools+":"+os.Getenv("PATH"))
	uri := d.URI("qemu")
	defer os.WriteFile(filepath.Join(tools, "gate"), nil, 0o644)
	for i, name := range []string{"gvslow", "gvother"} {
		x := fmt.Sprintf("<network><name>%s</name><bridge name='%sbr'/><ip address='192.168.%d.1' netmask='255.255.255.0'>"+
			"<dhcp><range start='192.168.%[3]d.2' end='192.168.%[3]d.99'/></dhcp></ip></network>", name, name, 161+i)
		mustVirsh(t, uri, "net-define "+writeTemp(t, name+".xml", x))
	}
	start := bgVirsh(t, uri, "net-start", "gvslow")
	waitFile(t, filepath.Join(tools, "started"))
	ok := within(func() {
		poolWant(t, "net-list", mustVirshE(t, uri, "net-list --all"), "gvslow", "gvother")
		poolWant(t, "net-info", mustVirshE(t, uri, "net-info gvslow"), "Active:         no", "gvslowbr")
		poolWant(t, "net-dumpxml", mustVirshE(t, uri, "net-dumpxml gvslow"), "<name>gvslow</name>")
		// Another network starts and stops meanwhile.
		poolWant(t, "net-start", mustVirshE(t, uri, "net-start gvother"), "Network gvother started")
		poolWant(t, "net-list", mustVirshE(t, uri, "net-list"), "gvother")
		poolWant(t, "net-destroy", mustVirshE(t, uri, "net-destroy gvother"), "Network gvother destroyed")
	}, 30*time.Second)
	if !ok {
		t.Error("virsh reads waited for the slow dnsmasq")
	}
	select {
	case out := <-start:
		t.Fatalf("net-start ended before dnsmasq did: %s", out)
	default:
	}
	os.WriteFile(filepath.Join(tools, "gate"), nil, 0o644)
	poolWant(t, "net-start", <-start, "Network gvslow started")
	if pid, ok := dnsmasqPid(t, d, "gvslow"); !ok {
		t.Errorf("no dnsmasq for gvslow (pid %d)", pid)
	}
	poolWant(t, "net-info", mustVirsh(t, uri, "net-info gvslow"), "Active:         yes")
	mustVirsh(t, uri, "net-destroy gvslow")
}
