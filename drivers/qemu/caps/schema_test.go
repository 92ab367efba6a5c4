package caps

import (
	"strings"
	"testing"
)

func TestSchemaPaths(t *testing.T) {
	c := probeReplay(t)
	for path, want := range map[string]bool{
		"blockdev-add/arg-type/+file/aio/^io_uring":               true,
		"blockdev-add/arg-type/+file/aio/^nonsense":               false,
		"device_add/$json-cli-hotplug":                            true,
		"query-hotpluggable-cpus/ret-type/props/die-id":           true,
		"chardev-add/arg-type/backend/+socket/data/reconnect":     true,
		"blockdev-add/arg-type/+vxhs":                             false,
		"netdev_add/arg-type/+stream":                             true,
		"query-display-options/ret-type/+egl-headless/rendernode": true,
		"no-such-command":                                         false,
		"blockdev-add/arg-type/*node-name":                        true,
		"blockdev-add/arg-type/*driver":                           false, // driver is mandatory
	} {
		if got := c.Schema.HasPath(path); got != want {
			t.Errorf("HasPath(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	c := probeReplay(t)
	if err := c.ValidateCommand("blockdev-add", []string{"driver", "node-name", "filename", "aio", "cache"}); err != nil {
		t.Error(err)
	}
	if err := c.ValidateCommand("device_add", []string{"driver", "id", "bus"}); err != nil {
		t.Error(err)
	}
	if err := c.ValidateCommand("blockdev-add", []string{"driver", "no-such-arg"}); err == nil || !strings.Contains(err.Error(), "no-such-arg") {
		t.Errorf("unknown argument accepted: %v", err)
	}
	if err := c.ValidateCommand("no-such-command", nil); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestValidateArgs(t *testing.T) {
	c := probeReplay(t)
	good := []struct {
		cmd  string
		args any
	}{
		{"blockdev-add", map[string]any{"driver": "file", "filename": "/var/lib/img.qcow2", "node-name": "libvirt-1-storage",
			"auto-read-only": true, "discard": "unmap"}},
		{"blockdev-add", map[string]any{"driver": "qcow2", "node-name": "libvirt-1-format", "read-only": false,
			"file": "libvirt-1-storage"}},
		{"blockdev-add", map[string]any{"driver": "qcow2", "node-name": "n", "file": map[string]any{"driver": "file", "filename": "/x"}}},
		{"netdev_add", map[string]any{"type": "stream", "id": "hostnet0", "server": false,
			"addr": map[string]any{"type": "unix", "path": "/run/x.sock"}}},
		{"object-add", map[string]any{"qom-type": "secret", "id": "sec0", "data": "AAAA", "format": "base64"}},
		{"query-status", nil},
		{"qom-list-types", struct{}{}},
	}
	for _, g := range good {
		if err := c.ValidateArgs(g.cmd, g.args); err != nil {
			t.Errorf("%s %v: %v", g.cmd, g.args, err)
		}
	}
	bad := []struct {
		cmd, want string
		args      any
	}{
		{"blockdev-add", "unknown member", map[string]any{"driver": "file", "filename": "/x", "node-name": "n", "bogus": 1}},
		{"blockdev-add", "missing member \"filename\"", map[string]any{"driver": "file", "node-name": "n"}},
		{"blockdev-add", "not one of", map[string]any{"driver": "nosuchdriver", "node-name": "n"}},
		{"blockdev-add", "want boolean", map[string]any{"driver": "file", "filename": "/x", "read-only": "yes"}},
		{"netdev_add", "unknown member", map[string]any{"type": "tap", "id": "n", "server": true}},
	}
	for _, b := range bad {
		err := c.ValidateArgs(b.cmd, b.args)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s %v: got %v, want an error containing %q", b.cmd, b.args, err, b.want)
		}
	}
}
