package qemu

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"govirt/driver"
)

func typedParamMap(p []driver.TypedParam) map[string]any {
	m := map[string]any{}
	for _, x := range p {
		m[x.Field] = x.Value
	}
	return m
}

// The source's completed figures survive the cookie and become the
// destination's domjobinfo --completed, with libvirt's element layout.
func TestCookieStatsRoundTrip(t *testing.T) {
	down, setup, dup := uint64(12), uint64(3), uint64(100)
	st := migStats{Status: "completed", Downtime: &down, SetupTime: &setup}
	st.RAM = &struct {
		Transferred      uint64  `json:"transferred"`
		Remaining        uint64  `json:"remaining"`
		Total            uint64  `json:"total"`
		Duplicate        *uint64 `json:"duplicate"`
		Normal           uint64  `json:"normal"`
		NormalBytes      uint64  `json:"normal-bytes"`
		DirtyPagesRate   uint64  `json:"dirty-pages-rate"`
		PageSize         uint64  `json:"page-size"`
		DirtySyncCount   uint64  `json:"dirty-sync-count"`
		PostcopyRequests uint64  `json:"postcopy-requests"`
		Mbps             float64 `json:"mbps"`
	}{Transferred: 5000, Total: 134217728, Duplicate: &dup, Normal: 7, NormalBytes: 28672, PageSize: 4096, DirtySyncCount: 2, Mbps: 8}
	src := migJobParams(jobOperation(asyncMigrationOut), 900, st, mirrorStats{total: 1000, transferred: 1000}, false)
	started := time.UnixMilli(1_700_000_000_000)
	sent := started.Add(900 * time.Millisecond)
	cs := makeCookieStats(src, started, sent)

	c := migCookie{Name: "g", UUID: "7d82a4e8-4dd5-4461-beb8-262d8214996d", Hostname: "h", HostUUID: "5b0c1f9e-7d3a-4e2b-9c8f-1a2b3c4d5e6f", Stats: cs}
	out, err := xml.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"<statistics><started>1700000000000</started><stopped>0</stopped><sent>1700000000900</sent><time_elapsed>900</time_elapsed><downtime>12</downtime><setup_time>3</setup_time><memory_total>134217728</memory_total>",
		"<memory_bps>1000000</memory_bps><memory_constant>100</memory_constant>",
		"<memory_page_size>4096</memory_page_size><disk_total>1000</disk_total>",
		"<auto_converge_throttle>0</auto_converge_throttle></statistics>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("cookie lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "compression_") {
		t.Errorf("compression figures without xbzrle:\n%s", s)
	}
	back, err := parseCookie(out)
	if err != nil || back.Stats == nil {
		t.Fatalf("parse: %v %+v", err, back)
	}
	// Finish 100 ms after sending (the hosts' clocks agree), 50 ms later.
	received := sent.Add(100 * time.Millisecond)
	p := back.Stats.statsParams(jobOperation(asyncMigrationIn), received, received.Add(50*time.Millisecond))
	m := typedParamMap(p)
	want := map[string]any{
		"operation": jobOperation(asyncMigrationIn), "time_elapsed": uint64(1050), "time_elapsed_net": uint64(950),
		"downtime": uint64(12), "setup_time": uint64(3),
		"data_total": uint64(134217728 + 1000), "data_processed": uint64(6000),
		"memory_total": uint64(134217728), "memory_processed": uint64(5000), "memory_bps": uint64(1000000),
		"memory_constant": uint64(100), "memory_normal": uint64(7), "memory_normal_bytes": uint64(28672),
		"memory_iteration": uint64(2), "memory_page_size": uint64(4096), "disk_total": uint64(1000),
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
		}
	}
	if _, ok := m["auto_converge_throttle"]; ok {
		t.Errorf("zero throttle listed")
	}
	if p[0].Field != "operation" || p[1].Field != "time_elapsed" || p[2].Field != "time_elapsed_net" {
		t.Errorf("order: %v", p[:3])
	}
}

// libvirt's figures are read too, and a malformed one is only skipped.
func TestCookieStatsFromLibvirt(t *testing.T) {
	ck, err := parseCookie([]byte(libvirtPerformCookie))
	if err != nil || ck.Stats == nil {
		t.Fatalf("%v %+v", err, ck)
	}
	b := []byte(`<qemu-migration><name>g</name><uuid>u</uuid><hostname>h</hostname><hostuuid>x</hostuuid>
<statistics><started>0</started><time_elapsed>77</time_elapsed><memory_total>bad</memory_total><memory_processed>9</memory_processed></statistics></qemu-migration>`)
	ck, err = parseCookie(b)
	if err != nil || ck.Stats == nil {
		t.Fatalf("%v %+v", err, ck)
	}
	m := typedParamMap(ck.Stats.statsParams(4, time.Now(), time.Now()))
	if m["time_elapsed"] != uint64(77) || m["memory_total"] != uint64(0) || m["memory_processed"] != uint64(9) {
		t.Errorf("params %v", m)
	}
	if _, ok := m["downtime"]; ok {
		t.Errorf("downtime without one sent: %v", m)
	}
}
