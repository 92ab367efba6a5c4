package qemu

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
)

// snapJobMonitor plays QEMU for snapshot jobs: every job started concludes
// at once, with jobErr as its error.
type snapJobMonitor struct {
	mu     sync.Mutex
	cmds   []string
	args   map[string]string
	jobID  string
	jobErr string
	after  func(cmd string)
}

func (m *snapJobMonitor) Execute(_ context.Context, cmd string, args, ret any) error {
	m.mu.Lock()
	m.cmds = append(m.cmds, cmd)
	if m.args == nil {
		m.args = map[string]string{}
	}
	if args != nil {
		b, _ := json.Marshal(args)
		m.args[cmd] = string(b)
		if a, ok := args.(qmp.SnapshotJobArgs); ok {
			m.jobID = a.JobID
		}
	}
	var reply any
	if cmd == "query-jobs" {
		reply = []qmp.JobInfo{{ID: m.jobID, Type: "snapshot-save", Status: "concluded", Error: m.jobErr}}
	}
	after := m.after
	m.mu.Unlock()
	if reply != nil && ret != nil {
		b, _ := json.Marshal(reply)
		if err := json.Unmarshal(b, ret); err != nil {
			return err
		}
	}
	if after != nil {
		after(cmd)
	}
	return nil
}

func (m *snapJobMonitor) Close() error { return nil }

const snapDisks = `<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/b.qcow2'/><target dev='vdb' bus='virtio'/><readonly/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/c.qcow2'/><target dev='vdc' bus='virtio'/></disk></devices>`

// TestCreateInternalActive: a running guest is paused (reason save), the
// snapshot-save job covers its writable qcow2 disks with the state in the
// first, is dismissed, and the guest runs again; a failed job gives
// QEMU's error and still resumes the guest.
func TestCreateInternalActive(t *testing.T) {
	for _, jobErr := range []string{"", "Device 'libvirt-3-format' is writable but does not support snapshots"} {
		mon := &snapJobMonitor{jobErr: jobErr}
		d, v, _ := runningVM(t, &fakeMonitor{}, snapDisks)
		v.mu.Lock()
		v.mon = mon
		for i, disk := range v.live.Devices.Disks {
			disk.Source.NodeNameFormat = []string{"libvirt-1-format", "libvirt-2-format", "libvirt-3-format"}[i]
		}
		v.mu.Unlock()
		var pausedReason int32 = -1
		mon.after = func(cmd string) {
			switch cmd {
			case "stop":
				d.handleStop(v)
				v.mu.Lock()
				pausedReason = v.reason
				v.mu.Unlock()
			}
		}
		snap := &conf.DomainSnapshot{Name: "s1", Disks: []conf.SnapshotDisk{
			{Name: "vda", Snapshot: "internal"}, {Name: "vdb", Snapshot: "internal"}, {Name: "vdc", Snapshot: "internal"}}}
		err := d.createInternalActive(v, mon, snap, false)
		if jobErr == "" && err != nil || jobErr != "" && (err == nil || !strings.Contains(err.Error(), "Failed to take snapshot: "+jobErr)) {
			t.Errorf("job error %q: %v", jobErr, err)
		}
		got := strings.Join(mon.cmds, " ")
		if got != "stop snapshot-save query-jobs job-dismiss cont" {
			t.Errorf("commands: %s", got)
		}
		if want := `"tag":"s1","vmstate":"libvirt-1-format","devices":["libvirt-1-format","libvirt-3-format"]`; !strings.Contains(mon.args["snapshot-save"], want) {
			t.Errorf("snapshot-save %s, want %s", mon.args["snapshot-save"], want)
		}
		if pausedReason != driver.PausedSave {
			t.Errorf("paused with reason %d, want save", pausedReason)
		}
		v.mu.Lock()
		st, reason := v.state, v.reason
		v.mu.Unlock()
		if st != driver.StateRunning || reason != driver.RunningUnpaused {
			t.Errorf("state %d reason %d after the snapshot", st, reason)
		}
	}
}

// TestRevertConfigs: libvirt's choice of definitions for a revert.
func TestRevertConfigs(t *testing.T) {
	_, v, _ := runningVM(t, &fakeMonitor{}, "")
	dom := func(name string) *conf.Domain {
		d, err := conf.ParseDomain([]byte("<domain type='qemu'><name>"+name+"</name><memory>65536</memory><os><type>hvm</type></os></domain>"), 0)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		state    string
		inactive bool
		want     string
	}{
		{"running", true, "ev/ev inactive"},
		{"running", false, "ev/ev"},
		{"paused", false, "ev/ev"},
		{"shutoff", false, "-/ev"},
	} {
		snap := &conf.DomainSnapshot{State: tc.state, Domain: dom("old")}
		if tc.inactive {
			snap.InactiveDomain = dom("old")
			snap.InactiveDomain.Description = "inactive"
		}
		config, inactive := revertConfigs(snap, v)
		got := "-"
		if config != nil {
			got = config.Name
		}
		got += "/" + inactive.Name
		if inactive.Description != "" {
			got += " " + inactive.Description
		}
		if got != tc.want {
			t.Errorf("%s (inactive %v): %s, want %s", tc.state, tc.inactive, got, tc.want)
		}
	}
}
