package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestQemuNodeDevicesVsLibvirtd compares qemu:///system's node devices
// and host interfaces with libvirtd 9.0's on the same host: virsh's
// lists, trees and every device's and interface's XML, then the whole
// API through python-libvirt (lookups, capabilities, the older list
// calls, libvirt's refusals of detach/reset/create/define on this host
// and of the interface changes its udev backend cannot make).
//
// libvirtd learns of devices that come and go from udevd's events; on a
// host without udevd it keeps the devices of its start, while govirtd
// reads sysfs each time. The guests' taps and bridges other tests create
// meanwhile are therefore left out (any virtual network device one daemon
// lists and the other does not).
func TestQemuNodeDevicesVsLibvirtd(t *testing.T) {
	if _, err := os.Stat(systemLibvirtdSock); err != nil {
		t.Skip("libvirtd not reachable on " + systemLibvirtdSock)
	}
	if os.Geteuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	d := startDaemon(t)
	q := d.URI("qemu")

	list := func(uri string, args ...string) []string {
		out, errOut, rc := virsh(t, uri, append([]string{"nodedev-list"}, args...)...)
		if rc != 0 {
			t.Fatalf("nodedev-list %v on %s: %s", args, uri, errOut)
		}
		var n []string
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				n = append(n, l)
			}
		}
		sort.Strings(n)
		return n
	}
	ours, theirs := list(q), list(libvirtdURI)
	skip := symDiff(ours, theirs)
	for _, n := range skip {
		xml, _, _ := virsh(t, q, "nodedev-dumpxml", n)
		if xml == "" {
			xml, _, _ = virsh(t, libvirtdURI, "nodedev-dumpxml", n)
		}
		if !strings.HasPrefix(n, "net_") || (xml != "" && !strings.Contains(xml, "<path>/sys/devices/virtual/net/")) {
			t.Errorf("device %s is listed by one daemon only (govirtd %v, libvirtd %v)", n, ours, theirs)
		}
	}
	skipSet := map[string]bool{}
	for _, n := range skip {
		skipSet[n] = true
	}
	for _, n := range ours {
		if skipSet[n] {
			continue
		}
		a, aErr, aRC := virsh(t, q, "nodedev-dumpxml", n)
		b, bErr, bRC := virsh(t, libvirtdURI, "nodedev-dumpxml", n)
		if a != b || aErr != bErr || aRC != bRC {
			t.Errorf("nodedev-dumpxml %s differs:\n--- govirtd rc=%d\n%s%s--- libvirtd rc=%d\n%s%s", n, aRC, a, aErr, bRC, b, bErr)
		}
	}
	for _, cap := range []string{"pci", "net", "storage", "system", "pci,storage", "scsi_host", "usb_device", "mdev_types"} {
		if a, b := minus(list(q, "--cap", cap), skipSet), minus(list(libvirtdURI, "--cap", cap), skipSet); strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("nodedev-list --cap %s: govirtd %v, libvirtd %v", cap, a, b)
		}
	}
	if len(skip) == 0 {
		a, _, _ := virsh(t, q, "nodedev-list", "--tree")
		b, _, _ := virsh(t, libvirtdURI, "nodedev-list", "--tree")
		if a != b {
			t.Errorf("nodedev-list --tree differs:\n--- govirtd\n%s--- libvirtd\n%s", a, b)
		}
	}

	// Host interfaces through virsh.
	ifSkip := map[string]bool{}
	for _, n := range skip {
		ifSkip[regexp.MustCompile(`^net_(.*)(_[0-9a-f]{2}){6}$`).ReplaceAllString(n, "$1")] = true
	}
	ifList := func(uri string, args ...string) string {
		out, errOut, rc := virsh(t, uri, append([]string{"iface-list"}, args...)...)
		if rc != 0 {
			t.Fatalf("iface-list %v: %s", args, errOut)
		}
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && ifSkip[f[0]] {
				continue
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	for _, args := range [][]string{{"--all"}, nil, {"--inactive"}} {
		if a, b := ifList(q, args...), ifList(libvirtdURI, args...); a != b {
			t.Errorf("iface-list %v differs:\n--- govirtd\n%s\n--- libvirtd\n%s", args, a, b)
		}
	}
	cmds := [][]string{{"iface-dumpxml", "nope"}, {"iface-name", "02:00:00:00:00:99"}, {"iface-begin"},
		{"iface-undefine", "lo"}, {"iface-start", "lo"}, {"iface-destroy", "lo"},
		{"nodedev-dumpxml", "nope"}, {"nodedev-dumpxml", "../../../etc/passwd"}, {"nodedev-detach", "computer"},
		{"nodedev-reset", "computer"}, {"nodedev-info", "computer"}, {"nodedev-start", "computer"},
		{"nodedev-undefine", "computer"}, {"nodedev-autostart", "computer"}}
	for _, l := range strings.Split(ifList(q, "--all"), "\n")[2:] {
		if f := strings.Fields(l); len(f) == 3 {
			cmds = append(cmds, []string{"iface-dumpxml", f[0]}, []string{"iface-dumpxml", "--inactive", f[0]},
				[]string{"iface-mac", f[0]}, []string{"iface-name", f[2]})
		}
	}
	for _, c := range cmds {
		a, aErr, aRC := virsh(t, q, c...)
		b, bErr, bRC := virsh(t, libvirtdURI, c...)
		if a != b || aErr != bErr || aRC != bRC {
			t.Errorf("virsh %v differs:\n--- govirtd rc=%d\n%s%s--- libvirtd rc=%d\n%s%s", c, aRC, a, aErr, bRC, b, bErr)
		}
	}

	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	script := "testdata/python/qemu_nodedev_iface.py"
	got := pythonTranscript(t, script, q, strings.Join(skip, ","))
	want := pythonTranscript(t, script, libvirtdURI, strings.Join(skip, ","))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		for i := 0; i < len(got) || i < len(want); i++ {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("python line %d:\n govirtd: %s\nlibvirtd: %s", i+1, g, w)
			}
		}
	}
}

// symDiff lists the names in exactly one of two sorted lists.
func symDiff(a, b []string) []string {
	in := map[string]int{}
	for _, n := range a {
		in[n] |= 1
	}
	for _, n := range b {
		in[n] |= 2
	}
	var out []string
	for n, v := range in {
		if v != 3 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func minus(a []string, skip map[string]bool) []string {
	var out []string
	for _, n := range a {
		if !skip[n] {
			out = append(out, n)
		}
	}
	return out
}

// TestQemuNodeDeviceEvents: a veth pair appearing and going away on the
// host reaches a client as node device lifecycle events (from the
// kernel's uevents; libvirtd gets the same from udevd).
func TestQemuNodeDeviceEvents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	d := startDaemon(t)
	name := fmt.Sprintf("gvnd%d", os.Getpid()%100000)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev := exec.CommandContext(ctx, "virsh", "-c", d.URI("qemu"), "nodedev-event", "--loop", "--event", "lifecycle")
	ev.Env = append(os.Environ(), "LC_ALL=C")
	var out syncBuffer
	ev.Stdout = &out
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); ev.Wait() }()
	time.Sleep(time.Second) // the callback is registered
	defer exec.Command("ip", "link", "del", name).Run()
	if b, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", name+"p").CombinedOutput(); err != nil {
		t.Skipf("cannot add a veth pair: %v %s", err, b)
	}
	waitFor := func(re string) {
		t.Helper()
		r := regexp.MustCompile(re)
		for i := 0; i < 100 && !r.MatchString(out.String()); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if !r.MatchString(out.String()) {
			t.Fatalf("no event matching %s in:\n%s", re, out.String())
		}
	}
	waitFor(`event 'lifecycle' for node device net_` + name + `_[0-9a-f_]{17}: Created`)
	waitFor(`event 'lifecycle' for node device net_` + name + `p_[0-9a-f_]{17}: Created`)
	if b, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v %s", err, b)
	}
	waitFor(`event 'lifecycle' for node device net_` + name + `_[0-9a-f_]{17}: Deleted`)
}
