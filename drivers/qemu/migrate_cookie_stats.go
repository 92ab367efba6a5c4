package qemu

import (
	"encoding/xml"
	"strconv"
	"time"

	"govirt/driver"
)

// The cookie's <statistics> element (libvirt 9.0's
// qemuMigrationCookieStatisticsXMLFormat/Parse): the source sends the
// completed migration's figures with Perform's cookie, so that the
// destination, whose QEMU has none, answers domjobinfo --completed with
// them; the destination sends them back with Finish's. Children are named
// after the job's typed parameters, in libvirt's order:
//
//	<statistics>
//	  <started>ms since the epoch</started> <stopped/> <sent/> [<delta/>]
//	  <time_elapsed/> [<downtime/>] [<setup_time/>]
//	  <memory_total/> ... <memory_page_size/>
//	  <disk_total/> ... <disk_bps/> [<compression_*/>]
//	  <auto_converge_throttle/>
//	</statistics>
//
// The children are kept as generic elements so that, as libvirt's XPath
// reads, a missing or malformed figure is only left out, never a failed
// cookie.

type cookieStats struct {
	Fields []statField `xml:",any"`
}

type statField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// value returns the figure name holds and whether it is there and valid.
func (s *cookieStats) value(name string) (uint64, bool) {
	for _, f := range s.Fields {
		if f.XMLName.Local == name {
			n, err := strconv.ParseUint(f.Value, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// Figures libvirt always writes (0 when unknown), and the ones it writes
// only when QEMU reported them (the first of each group decides).
var (
	statsAlways = []string{
		"memory_total", "memory_processed", "memory_remaining", "memory_bps",
	}
	statsMemoryNormal = []string{"memory_constant", "memory_normal", "memory_normal_bytes"}
	statsMemoryRest   = []string{
		"memory_dirty_rate", "memory_iteration", "memory_postcopy_requests", "memory_page_size",
		"disk_total", "disk_processed", "disk_remaining", "disk_bps",
	}
	statsCompression = []string{
		"compression_cache", "compression_bytes", "compression_pages",
		"compression_cache_misses", "compression_overflow",
	}
)

// makeCookieStats turns a completed migration's job parameters (migJobParams)
// into the cookie element; started is when the job began, sent now.
func makeCookieStats(params []driver.TypedParam, started, sent time.Time) *cookieStats {
	vals := map[string]string{}
	for _, p := range params {
		switch x := p.Value.(type) {
		case uint64:
			vals[p.Field] = strconv.FormatUint(x, 10)
		case int32:
			vals[p.Field] = strconv.FormatInt(int64(x), 10)
		}
	}
	s := &cookieStats{}
	add := func(name, v string) { s.Fields = append(s.Fields, statField{xml.Name{Local: name}, v}) }
	addOr0 := func(name string) {
		v, ok := vals[name]
		if !ok {
			v = "0"
		}
		add(name, v)
	}
	ms := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	add("started", ms(started))
	// When the vCPUs stopped is set by the caller (migrate_stopped.go);
	// 0 leaves libvirt's reader with the downtime QEMU measured.
	add("stopped", "0")
	add("sent", ms(sent))
	addOr0("time_elapsed")
	for _, n := range []string{"downtime", "setup_time"} {
		if v, ok := vals[n]; ok {
			add(n, v)
		}
	}
	for _, n := range statsAlways {
		addOr0(n)
	}
	if _, ok := vals[statsMemoryNormal[0]]; ok {
		for _, n := range statsMemoryNormal {
			addOr0(n)
		}
	}
	for _, n := range statsMemoryRest {
		addOr0(n)
	}
	if _, ok := vals[statsCompression[0]]; ok {
		for _, n := range statsCompression {
			addOr0(n)
		}
	}
	addOr0("auto_converge_throttle")
	return s
}

// statsParams is what the destination keeps for domjobinfo --completed:
// qemuDomainMigrationJobDataToParams of the source's figures, with the
// elapsed time and downtime brought up to now and the clock difference
// between the hosts (sent to received, when Finish began) giving the _net
// times, as libvirt's qemuMigrationDstFinishActive.
func (s *cookieStats) statsParams(op int32, received, nowT time.Time) []driver.TypedParam {
	var p []driver.TypedParam
	add := func(name string, v any) { p = append(p, driver.TypedParam{Field: name, Value: v}) }
	u := func(name string) uint64 { v, _ := s.value(name); return v }
	now, recv := uint64(nowT.UnixMilli()), uint64(received.UnixMilli())

	elapsed := u("time_elapsed")
	if started := u("started"); started > 0 && now >= started {
		elapsed = now - started
	}
	downtime, downtimeSet := s.value("downtime")
	if stopped := u("stopped"); stopped > 0 && now >= stopped {
		downtime, downtimeSet = now-stopped, true
	}
	var delta uint64
	deltaSet := false
	if sent := u("sent"); sent > 0 && recv >= sent {
		delta, deltaSet = recv-sent, true
	}

	add("operation", op)
	add("time_elapsed", elapsed)
	if deltaSet && elapsed > delta {
		add("time_elapsed_net", elapsed-delta)
	}
	if downtimeSet {
		add("downtime", downtime)
		if deltaSet && downtime > delta {
			add("downtime_net", downtime-delta)
		}
	}
	if v, ok := s.value("setup_time"); ok {
		add("setup_time", v)
	}
	add("data_total", u("memory_total")+u("disk_total"))
	add("data_processed", u("memory_processed")+u("disk_processed"))
	add("data_remaining", u("memory_remaining")+u("disk_remaining"))
	add("memory_total", u("memory_total"))
	add("memory_processed", u("memory_processed"))
	add("memory_remaining", u("memory_remaining"))
	if v := u("memory_bps"); v != 0 {
		add("memory_bps", v)
	}
	if _, ok := s.value("memory_constant"); ok {
		for _, n := range statsMemoryNormal {
			add(n, u(n))
		}
	}
	add("memory_dirty_rate", u("memory_dirty_rate"))
	add("memory_iteration", u("memory_iteration"))
	add("memory_postcopy_requests", u("memory_postcopy_requests"))
	if v := u("memory_page_size"); v > 0 {
		add("memory_page_size", v)
	}
	add("disk_total", u("disk_total"))
	add("disk_processed", u("disk_processed"))
	add("disk_remaining", u("disk_remaining"))
	if v := u("disk_bps"); v != 0 {
		add("disk_bps", v)
	}
	if _, ok := s.value("compression_cache"); ok {
		for _, n := range statsCompression {
			add(n, u(n))
		}
	}
	if v := u("auto_converge_throttle"); v != 0 && v <= 100 {
		add("auto_converge_throttle", int32(v))
	}
	return p
}
