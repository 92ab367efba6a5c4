package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/drivers/qemu/agent"
	"govirt/virerr"
)

func TestFormatCPUList(t *testing.T) {
	for _, tc := range []struct {
		ids  []int
		want string
	}{
		{nil, ""}, {[]int{0}, "0"}, {[]int{0, 1, 2, 3}, "0-3"}, {[]int{3, 0, 1, 5}, "0-1,3,5"},
		{[]int{1, 3, 4, 5, 7}, "1,3-5,7"},
	} {
		if got := formatCPUList(tc.ids); got != tc.want {
			t.Errorf("formatCPUList(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"ga": "ga", "abcdefghijklmnopqrstuvwxyz": "abcdefghijklmnopqrst",
		"ééééééééééééééééééééééé": "éééééééééééééééééééé",
	} {
		if got := shortName(in); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAgentDuration(t *testing.T) {
	if agentDuration(-2) >= 0 || agentDuration(-1) != agent.DefaultTimeout || agentDuration(0) != 0 || agentDuration(7).Seconds() != 7 {
		t.Error("agentDuration")
	}
}

// fakeAgentConn answers commands from a table over a pipe, handling the
// sync as qemu-ga does.
func fakeAgentConn(t *testing.T, replies map[string]string) *agent.Agent {
	t.Helper()
	host, guest := net.Pipe()
	go func() {
		r := bufio.NewReader(guest)
		for {
			l, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			l = []byte(strings.TrimLeft(string(l), "\xff"))
			var cmd struct {
				Execute   string
				Arguments struct{ ID uint64 }
			}
			json.Unmarshal(l, &cmd)
			out, ok := replies[cmd.Execute]
			switch {
			case cmd.Execute == "guest-sync-delimited":
				b, _ := json.Marshal(cmd.Arguments.ID)
				out = "\xff{\"return\": " + string(b) + "}"
			case !ok:
				out = `{"error": {"class": "CommandNotFound", "desc": "The command ` + cmd.Execute + ` has not been found"}}`
			}
			// qemu-ga writes each reply on one line.
			var buf bytes.Buffer
			if json.Compact(&buf, []byte(strings.TrimPrefix(out, "\xff"))) == nil && !strings.HasPrefix(out, "\xff") {
				out = buf.String()
			}
			if _, err := guest.Write([]byte(out + "\n")); err != nil {
				return
			}
		}
	}()
	a := agent.New(host)
	t.Cleanup(func() { a.Close(); guest.Close() })
	return a
}

func TestAgentInterfacesFoldAliases(t *testing.T) {
	ag := fakeAgentConn(t, map[string]string{"guest-network-get-interfaces": `{"return": [
		{"name": "eth0", "hardware-address": "52:54:00:00:00:01", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.0.2", "prefix": 24}]},
		{"name": "eth0:1", "ip-addresses": [{"ip-address-type": "ipv6", "ip-address": "fe80::1", "prefix": 64}]},
		{"name": "lo"}]}`})
	c := &conn{}
	out, err := agentGetInterfaces(c, ag, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Name != "eth0" || out[0].HWAddr != "52:54:00:00:00:01" || len(out[0].Addrs) != 2 ||
		out[0].Addrs[1].Type != 1 || out[0].Addrs[1].Prefix != 64 || out[1].Name != "lo" || len(out[1].Addrs) != 0 {
		t.Fatalf("%+v", out)
	}
}

func TestAgentInterfacesErrors(t *testing.T) {
	for reply, want := range map[string]string{
		`{"return": {}}`:   "qemu agent didn't return an array of interfaces",
		`{"return": [{}]}`: "qemu agent didn't provide 'name' field",
		`{"return": [{"name": "x", "ip-addresses": [{"ip-address-type": "ipx"}]}]}`:                           "unknown ip address type 'ipx'",
		`{"return": [{"name": "x", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "1.2.3.4"}]}]}`: "malformed 'prefix' field",
	} {
		ag := fakeAgentConn(t, map[string]string{"guest-network-get-interfaces": reply})
		_, err := agentGetInterfaces(&conn{}, ag, true)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", reply, err, want)
		}
	}
	// Unsupported and not to be reported: nothing, no error.
	ag := fakeAgentConn(t, nil)
	if out, err := agentGetInterfaces(&conn{}, ag, false); out != nil || err != nil {
		t.Errorf("unsupported: %v %v", out, err)
	}
	if _, err := agentGetInterfaces(&conn{}, ag, true); err == nil || virerr.From(err).Code != virerr.ErrInternalError {
		t.Errorf("unsupported reported: %v", err)
	}
}

func TestGuestInfoParams(t *testing.T) {
	ag := fakeAgentConn(t, map[string]string{
		"guest-get-users":    `{"return": [{"user": "root", "login-time": 1700000000.5}, {"user": "bob", "domain": "D", "login-time": 1}]}`,
		"guest-get-osinfo":   `{"return": {"id": "debian", "kernel-release": "6.1", "unknown": "x"}}`,
		"guest-get-timezone": `{"return": {"zone": "CET", "offset": 3600}}`,
		"guest-get-fsinfo": `{"return": [
			{"name": "vda1", "mountpoint": "/", "type": "ext4", "used-bytes": 10, "total-bytes": 20,
			 "disk": [{"bus-type": "virtio", "bus": 0, "target": 0, "unit": 0, "pci-controller": {"domain": 0, "bus": 0, "slot": 5, "function": 0}, "dev": "/dev/vda1", "serial": "S1"}]},
			{"name": "sda1", "mountpoint": "/boot", "type": "vfat", "disk": []}]}`,
		"guest-get-disks": `{"return": [{"name": "/dev/vda", "partition": false, "dependencies": ["/dev/x"], "alias": "root",
			"address": {"bus-type": "virtio", "bus": 0, "target": 0, "unit": 0, "pci-controller": {"domain": 0, "bus": 0, "slot": 5, "function": 0}}}]}`,
	})
	def := &conf.Domain{}
	def.Devices.Disks = []*conf.Disk{{TargetDev: "vda", TargetBus: "virtio", Address: conf.Address{Type: "pci", Slot: 5}}}
	var g guestInfo
	if err := (&conn{}).collectGuestInfo(ag, guestInfoAll, false, &g); err != nil {
		t.Fatal(err)
	}
	fsParams(&g, def)
	if err := diskParams(&g, def); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	var order []string
	for _, p := range g.params {
		got[p.Field] = p.Value
		order = append(order, p.Field)
	}
	for k, v := range map[string]any{
		"user.count": uint32(2), "user.0.name": "root", "user.0.login-time": uint64(1700000000500),
		"user.1.domain": "D", "os.id": "debian", "os.kernel-release": "6.1", "timezone.name": "CET",
		"timezone.offset": int32(3600), "fs.count": uint32(2),
		// mount order: the agent's list reversed
		"fs.0.mountpoint": "/boot", "fs.1.mountpoint": "/", "fs.1.total-bytes": uint64(20), "fs.1.used-bytes": uint64(10),
		"fs.1.disk.0.alias": "vda", "fs.1.disk.0.serial": "S1", "fs.1.disk.0.device": "/dev/vda1", "fs.0.disk.count": uint32(0),
		"disk.count": uint32(1), "disk.0.partition": false, "disk.0.dependency.count": uint32(1),
		"disk.0.dependency.0.name": "/dev/x", "disk.0.alias": "vda", "disk.0.guest_alias": "root",
	} {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if _, ok := got["os.unknown"]; ok {
		t.Error("unknown os field passed on")
	}
	if _, ok := got["hostname"]; ok {
		t.Error("hostname without the command")
	}
	if strings.Join(order[:2], ",") != "user.count,user.0.name" {
		t.Errorf("order %v", order)
	}
	// Asked for explicitly, a missing command is the call's error.
	var g2 guestInfo
	err := (&conn{}).collectGuestInfo(ag, guestInfoHostname, true, &g2)
	if err == nil || !strings.Contains(err.Error(), "unable to execute QEMU agent command 'guest-get-host-name'") {
		t.Errorf("hostname reported: %v", err)
	}
}

func TestAgentErrTexts(t *testing.T) {
	for err, want := range map[error]string{
		agent.ErrTimeout: "Guest agent is not responding: Guest agent not available for now",
		agent.ErrClosed:  "Guest agent is not responding: Guest agent disappeared while executing command",
		&agent.Error{Command: "x", Class: "GenericError", Desc: "boom"}: "internal error: unable to execute QEMU agent command 'x': boom",
		context.Canceled: "operation aborted",
	} {
		if got := virerr.From(agentErr(err)).Message; !strings.Contains(got, want) {
			t.Errorf("%v: %q, want %q", err, got, want)
		}
	}
}
