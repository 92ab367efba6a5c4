package qmp_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

func TestDecodeEvent(t *testing.T) {
	yes := true
	cases := []struct {
		name, data string
		want       any
	}{
		{"SHUTDOWN", `{"guest":true,"reason":"guest-shutdown"}`, &qmp.ShutdownEvent{Guest: &yes, Reason: "guest-shutdown"}},
		{"SHUTDOWN", ``, &qmp.ShutdownEvent{}},
		{"STOP", ``, &qmp.StopEvent{}},
		{"RESUME", ``, &qmp.ResumeEvent{}},
		{"RESET", `{"guest":true,"reason":"guest-reset"}`, &qmp.ResetEvent{Guest: &yes, Reason: "guest-reset"}},
		{"POWERDOWN", ``, &qmp.PowerdownEvent{}},
		{"GUEST_PANICKED", `{"action":"pause"}`, &qmp.GuestPanickedEvent{Action: "pause"}},
		{"WATCHDOG", `{"action":"reset"}`, &qmp.WatchdogEvent{Action: "reset"}},
		{"BLOCK_IO_ERROR", `{"device":"","node-name":"libvirt-1-format","operation":"write","action":"stop","nospace":true,"reason":"No space left on device"}`,
			&qmp.BlockIOErrorEvent{NodeName: "libvirt-1-format", Operation: "write", Action: "stop", NoSpace: true, Reason: "No space left on device"}},
		{"RTC_CHANGE", `{"offset":-3600,"qom-path":"/machine/unattached/device[8]"}`, &qmp.RTCChangeEvent{Offset: -3600, QOMPath: "/machine/unattached/device[8]"}},
		{"JOB_STATUS_CHANGE", `{"status":"concluded","id":"commit-vda"}`, &qmp.JobStatusChangeEvent{ID: "commit-vda", Status: "concluded"}},
		{"BLOCK_JOB_COMPLETED", `{"device":"j","len":10,"offset":10,"speed":0,"type":"commit","error":"boom"}`, &qmp.BlockJobInfoEvent{Type: "commit", Device: "j", Len: 10, Offset: 10, Error: "boom"}},
		{"BLOCK_JOB_READY", `{"device":"j","len":10,"offset":10,"speed":0,"type":"mirror"}`, &qmp.BlockJobInfoEvent{Type: "mirror", Device: "j", Len: 10, Offset: 10}},
		{"BLOCK_JOB_ERROR", `{"device":"j","operation":"read","action":"report"}`, &qmp.BlockJobErrorEvent{Device: "j", Operation: "read", Action: "report"}},
		{"DEVICE_DELETED", `{"device":"virtio-disk1","path":"/machine/peripheral/virtio-disk1"}`, &qmp.DeviceDeletedEvent{Device: "virtio-disk1", Path: "/machine/peripheral/virtio-disk1"}},
		{"DEVICE_DELETED", `{"path":"/machine/peripheral/virtio-disk1/virtio-backend"}`, &qmp.DeviceDeletedEvent{Path: "/machine/peripheral/virtio-disk1/virtio-backend"}},
		{"DEVICE_TRAY_MOVED", `{"device":"","id":"sata0-0-0","tray-open":true}`, &qmp.DeviceTrayMovedEvent{ID: "sata0-0-0", TrayOpen: true}},
		{"MIGRATION", `{"status":"completed"}`, &qmp.MigrationEvent{Status: "completed"}},
	}
	for _, c := range cases {
		ev := qmp.Event{Name: c.name}
		if c.data != "" {
			ev.Data = json.RawMessage(c.data)
		}
		got, err := qmp.DecodeEvent(ev)
		if err != nil {
			t.Errorf("%s %s: %v", c.name, c.data, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s: got %#v, want %#v", c.name, c.data, got, c.want)
		}
	}
	if got, err := qmp.DecodeEvent(qmp.Event{Name: "VSERPORT_CHANGE", Data: json.RawMessage(`{}`)}); got != nil || err != nil {
		t.Errorf("untyped event: %v %v", got, err)
	}
}

// TestDecodeEventBadData: data of the wrong shape is an error matching
// ErrEventDecode, and the members that did decode are kept.
func TestDecodeEventBadData(t *testing.T) {
	got, err := qmp.DecodeEvent(qmp.Event{Name: "BLOCK_IO_ERROR", Data: json.RawMessage(`{"device":"d","action":7,"reason":"r"}`)})
	if !errors.Is(err, qmp.ErrEventDecode) {
		t.Fatalf("err = %v", err)
	}
	ev, ok := got.(*qmp.BlockIOErrorEvent)
	if !ok || ev.Device != "d" || ev.Reason != "r" {
		t.Errorf("partial value = %#v", got)
	}
	if _, err := qmp.DecodeEvent(qmp.Event{Name: "SHUTDOWN", Data: json.RawMessage(`[1]`)}); !errors.Is(err, qmp.ErrEventDecode) {
		t.Errorf("array data: %v", err)
	}
}

// TestDecodeEventsFromMonitor: events sent by a (fake) QEMU arrive through
// OnEvent and decode in order.
func TestDecodeEventsFromMonitor(t *testing.T) {
	got := make(chan any, 4)
	m, srv := dialFake(t, qmp.Options{OnEvent: func(ev qmp.Event) {
		v, err := qmp.DecodeEvent(ev)
		if err != nil {
			t.Errorf("%s: %v", ev.Name, err)
		}
		got <- v
	}}, qmptest.Options{}, qmptest.Exchange{Execute: "cont", Reply: ret(`{}`),
		After: []qmptest.Event{{Name: "RESUME"}, {Name: "DEVICE_TRAY_MOVED", Data: map[string]any{"device": "", "id": "ide0-1-0", "tray-open": false}}}})
	if err := qmp.Cont(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	want := []any{&qmp.ResumeEvent{}, &qmp.DeviceTrayMovedEvent{ID: "ide0-1-0"}, &qmp.MigrationEvent{Status: "active"}}
	for i, w := range want {
		if i == 2 {
			// Sent only now: the fake QEMU sends the events after the
			// reply on its own, so an earlier one could overtake them.
			srv.SendEvent("MIGRATION", map[string]string{"status": "active"})
		}
		select {
		case g := <-got:
			if !reflect.DeepEqual(g, w) {
				t.Errorf("event %d = %#v, want %#v", i, g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never came", i)
		}
	}
}
