package nodedev

import (
	"context"
	"reflect"
	"testing"
)

func TestParseUevent(t *testing.T) {
	u, ok := parseUevent([]byte("add@/devices/virtual/net/gv0\x00ACTION=add\x00DEVPATH=/devices/virtual/net/gv0\x00SUBSYSTEM=net\x00"))
	if !ok || u.action != "add" || u.devpath != "/devices/virtual/net/gv0" {
		t.Errorf("%+v %v", u, ok)
	}
	for _, bad := range []string{"", "libudev\x00\xfe\xed", "add", "add@relative", "@/x"} {
		if _, ok := parseUevent([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestDiff(t *testing.T) {
	prev := map[string]string{"computer": "", "net_a_00": "/sys/devices/virtual/net/a", "block_vda": "/sys/devices/x/block/vda"}
	cur := map[string]string{"computer": "", "net_b_00": "/sys/devices/virtual/net/b", "block_vda": "/sys/devices/x/block/vda"}
	got := diff(prev, cur, []uevent{{"remove", "/devices/virtual/net/a"}, {"add", "/devices/virtual/net/b"},
		{"change", "/devices/x/block/vda"}, {"change", "/devices/x/block/vda"}, {"bind", "/devices/x"}})
	want := []Event{{Name: "net_a_00", Event: 1}, {Name: "net_b_00", Event: 0}, {Name: "block_vda", Update: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestWatchStops: the watcher ends with its context (when the host lets
// it open the socket at all).
func TestWatchStops(t *testing.T) {
	_, m := newFakeHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Watch(ctx, func(Event) {}); err != nil {
		t.Skipf("no uevent socket: %v", err)
	}
	cancel()
}

func FuzzParseUevent(f *testing.F) {
	f.Add([]byte("change@/devices/x\x00ACTION=change\x00DEVPATH=/devices/y\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, ok := parseUevent(b); ok && u.action == "" {
			t.Fatalf("empty action from %q", b)
		}
	})
}

// TestConcurrentCalls: lists, lookups and descriptions from many
// clients at once share the scan cache safely.
func TestConcurrentCalls(t *testing.T) {
	_, m := newFakeHost(t)
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func(i int) {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 20; j++ {
				switch (i + j) % 4 {
				case 0:
					m.ListAllNodeDevices(0)
				case 1:
					m.NodeDeviceGetXMLDesc("pci_0000_00_1f_0", 0)
				case 2:
					m.NodeDeviceGetParent("usb_1_1_1_0")
				case 3:
					m.Reset("pci_0000_00_1c_0", func(string) string { return "" })
				}
			}
		}(i)
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

// TestBurstNeedsScan: only uevents that can change the list cost a scan;
// a change of the kvm misc device (each VM any process creates) or of a
// listed device does not.
func TestBurstNeedsScan(t *testing.T) {
	f, m := newFakeHost(t)
	f.dev("/sys/devices/virtual/misc/kvm", "/sys/class/misc", "/sys/class/misc/kvm", "MAJOR=10\nMINOR=232\nDEVNAME=kvm\n")
	prev := m.snapshot()
	for _, c := range []struct {
		evs  []uevent
		want bool
	}{
		{[]uevent{{"change", "/devices/virtual/misc/kvm"}}, false},
		{[]uevent{{"change", "/devices/pci0000:00/0000:00:1f.0"}, {"bind", "/devices/pci0000:00/0000:00:10.0"}}, false},
		{[]uevent{{"change", "/devices/virtual/misc/gone"}}, false},
		{[]uevent{{"change", "/devices/virtual/misc/kvm"}, {"add", "/devices/virtual/net/gv0"}}, true},
		{[]uevent{{"remove", "/devices/virtual/net/gv0"}}, true},
		{[]uevent{{"move", "/devices/virtual/net/gv1"}}, true},
	} {
		if got := m.burstNeedsScan(prev, c.evs); got != c.want {
			t.Errorf("%+v: got %v, want %v", c.evs, got, c.want)
		}
	}
	// A change of a device that would be listed but is not in the last
	// scan (it came between) does scan.
	delete(prev, "net_eth0_00_1b_21_aa_bb_cc")
	if !m.burstNeedsScan(prev, []uevent{{"change", "/devices/pci0000:00/0000:00:1f.0/net/eth0"}}) {
		t.Error("a change of an unlisted typed device did not scan")
	}
	if got := diff(prev, prev, []uevent{{"change", "/devices/pci0000:00/0000:00:1f.0"}}); len(got) != 1 || !got[0].Update {
		t.Errorf("update without a scan: %+v", got)
	}
}

// TestHoldGatesEvents: a burst with no holder publishes nothing; once
// held, a device that appears after Hold is reported as created, and
// after the last release nothing is again.
func TestHoldGatesEvents(t *testing.T) {
	f, m := newFakeHost(t)
	var got []Event
	pub := func(e Event) { got = append(got, e) }
	add := []uevent{{"add", "/devices/virtual/net/gv9"}}
	m.settled(add, pub)
	if len(got) != 0 || m.watched() {
		t.Fatalf("events without a holder: %+v", got)
	}
	r1, r2 := m.Hold(), m.Hold()
	f.dev("/sys/devices/virtual/net/gv9", "/sys/class/net", "/sys/class/net/gv9", "INTERFACE=gv9\nIFINDEX=9\n")
	f.file("/sys/devices/virtual/net/gv9/address", "52:54:00:00:00:09\n")
	f.file("/sys/devices/virtual/net/gv9/addr_len", "6\n")
	f.file("/sys/devices/virtual/net/gv9/operstate", "up\n")
	m.settled(add, pub)
	if len(got) != 1 || got[0].Event != 0 || got[0].Update {
		t.Fatalf("after Hold: %+v", got)
	}
	r1()
	r1() // a second call is a no-op
	if !m.watched() {
		t.Fatal("released by the first holder alone")
	}
	r2()
	if m.watched() {
		t.Fatal("still watched after both released")
	}
}
