package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// QemuMonitorCommand is virDomainQemuMonitorCommand. The reply is the
// whole QMP reply as compact JSON — also an error reply, which libvirt
// passes back as text rather than as a failure — or, for HMP, the
// command's output. The guest is tainted "custom-monitor" first, since
// the command may change it behind govirtd's back.
func (c *conn) QemuMonitorCommand(h driver.Domain, cmd string, flags uint32) (string, error) {
	if flags&^driver.QemuMonitorCommandHMP != 0 {
		return "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg,
			"unsupported flags (0x%x) in function qemuDomainQemuMonitorCommandWithFiles", flags&^driver.QemuMonitorCommandHMP)
	}
	var out string
	err := c.withJob(h, "monitor command", func(v *vm, mon monitor) error {
		c.d.taint(v, taintCustomMonitor)
		var err error
		if flags&driver.QemuMonitorCommandHMP != 0 {
			out, err = humanCommand(mon, cmd)
		} else {
			out, err = arbitraryCommand(mon, cmd)
		}
		return err
	})
	return out, err
}

func humanCommand(mon monitor, line string) (string, error) {
	s, err := qmp.HumanMonitorCommand(context.Background(), mon, line)
	var qe *qmp.Error
	switch {
	case errors.Is(err, qmp.ErrCommandNotFound):
		return "", errQEMU(virerr.ErrOperationUnsupported, "Human monitor command is not available to run %s", line)
	case errors.As(err, &qe):
		return "", errQEMU(virerr.ErrInternalError, "unable to execute QEMU command 'human-monitor-command': %s", qe.Desc)
	case err != nil:
		return "", qmpFailed("human-monitor-command", err)
	}
	return s, nil
}

// monCmdSeq numbers the ids shown in arbitrary commands' replies. The
// monitor assigns its own ids on the wire; these only stand in for them
// so the reply has the shape QEMU gave it.
var monCmdSeq atomic.Uint64

func arbitraryCommand(mon monitor, text string) (string, error) {
	var req struct {
		Execute   string          `json:"execute"`
		Arguments json.RawMessage `json:"arguments"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	if err := dec.Decode(&req); err != nil {
		return "", errQEMU(virerr.ErrInternalError, "cannot parse json %s: %v", text, err)
	}
	ret, err := qmp.Raw(context.Background(), mon, req.Execute, req.Arguments)
	id, _ := json.Marshal(fmt.Sprintf("libvirt-%d", monCmdSeq.Add(1)))
	var qe *qmp.Error
	var b bytes.Buffer
	switch {
	case errors.As(err, &qe):
		e, _ := json.Marshal(struct {
			Class string `json:"class"`
			Desc  string `json:"desc"`
		}{qe.Class, qe.Desc})
		fmt.Fprintf(&b, `{"id":%s,"error":%s}`, id, e)
	case err != nil:
		return "", qmpFailed(req.Execute, err)
	default:
		var body bytes.Buffer
		if len(ret) == 0 || json.Compact(&body, ret) != nil {
			body.Reset()
			body.WriteString("{}")
		}
		fmt.Fprintf(&b, `{"return":%s,"id":%s}`, body.Bytes(), id)
	}
	return b.String(), nil
}

// Taints, as libvirt names and explains them.
const taintCustomMonitor = "custom-monitor"

var taintMessages = map[string]string{
	taintCustomMonitor:          "custom monitor control commands issued",
	"custom-argv":               "custom configuration parameters specified",
	"custom-device":             "custom device configuration",
	"custom-hypervisor-feature": "hypervisor feature autodetection override",
}

// taintSet is a guest's taints (v.ext.taints, under v.ext.taintMu). They
// are per run: valid only for the run that started at the recorded time,
// so a restart clears them as it does in libvirt without a hook in the
// stop path.
type taintSet struct {
	run   time.Time
	flags []string
}

// taint records flag for v's current run and, the first time, writes
// libvirt's warning to the domain log.
func (d *Driver) taint(v *vm, flag string) {
	v.mu.Lock()
	run, id, name := v.startedAt, v.id, v.name
	v.mu.Unlock()
	v.ext.taintMu.Lock()
	ts := v.ext.taints
	if !ts.run.Equal(run) {
		ts = taintSet{run: run}
	}
	for _, f := range ts.flags {
		if f == flag {
			v.ext.taintMu.Unlock()
			return
		}
	}
	ts.flags = append(ts.flags, flag)
	v.ext.taints = ts
	v.ext.taintMu.Unlock()
	d.log.Warn("domain is tainted", "domain", name, "id", id, "taint", flag)
	if path, err := d.logPath(name); err != nil {
		return
	} else if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(f, "%s: Domain id=%d is tainted: %s\n", time.Now().UTC().Format("2006-01-02 15:04:05.000+0000"), id, flag)
		f.Close()
	}
}

// Message kinds of virDomainGetMessages.
const (
	messageDeprecation = 1 << 0
	messageTainting    = 1 << 1
)

// taintMessagesFor returns v's taint messages for DomainGetMessages; call
// with v.mu held.
func taintMessagesFor(v *vm, flags uint32) []string {
	if flags != 0 && flags&messageTainting == 0 {
		return nil
	}
	v.ext.taintMu.Lock()
	defer v.ext.taintMu.Unlock()
	ts := v.ext.taints
	if len(ts.flags) == 0 || !v.active() || !ts.run.Equal(v.startedAt) {
		return nil
	}
	var out []string
	for _, f := range ts.flags {
		out = append(out, "tainted: "+taintMessages[f])
	}
	return out
}

// publishMonitorEvent puts every QMP event on the bus for the QEMU
// program's monitor event callbacks (virsh qemu-monitor-event), with
// QEMU's own timestamp and its data as compact JSON.
func (d *Driver) publishMonitorEvent(v *vm, ev qmp.Event) {
	ts := ev.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	var details *string
	if len(ev.Data) > 0 {
		var b bytes.Buffer
		if json.Compact(&b, ev.Data) == nil {
			s := b.String()
			details = &s
		}
	}
	v.mu.Lock()
	h := v.handle()
	v.mu.Unlock()
	d.bus.Publish(driver.QemuMonitorEvent{
		Dom: h, Event: ev.Name, Seconds: ts.Unix(), Micros: uint32(ts.Nanosecond() / 1000), Details: details,
	})
}
