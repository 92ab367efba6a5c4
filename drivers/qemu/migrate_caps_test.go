package qemu

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"govirt/driver"
)

func TestMigSettingsFor(t *testing.T) {
	tp := func(kv ...any) []driver.TypedParam {
		var out []driver.TypedParam
		for i := 0; i < len(kv); i += 2 {
			out = append(out, driver.TypedParam{Field: kv[i].(string), Value: kv[i+1]})
		}
		return out
	}
	for _, c := range []struct {
		name    string
		flags   uint32
		params  []driver.TypedParam
		party   int
		caps    []string
		params2 map[string]any
		err     string
	}{
		{name: "plain", flags: migrateLive, party: partySource, caps: []string{"return-path"}},
		{name: "tunnelled", flags: migrateLive | migrateTunnelled, party: partySource},
		{name: "postcopy both", flags: migrateLive | migratePostcopy, party: partyDest, caps: []string{"postcopy-ram", "return-path"}},
		{name: "auto-converge source only", flags: migrateAutoConverge | migrateTunnelled, party: partyDest},
		{name: "auto-converge tuned", flags: migrateAutoConverge | migrateTunnelled, party: partySource,
			params: tp(migParamACInitial, int32(30), migParamACIncrement, int32(5)),
			caps:   []string{"auto-converge"}, params2: map[string]any{"cpu-throttle-initial": int32(30), "cpu-throttle-increment": int32(5)}},
		{name: "auto-converge untuned", flags: 0, party: partySource, params: tp(migParamACInitial, int32(30)), err: "Turn auto convergence on to tune it"},
		{name: "parallel", flags: migrateParallel | migrateTunnelled, party: partyDest, params: tp(migParamParallelConns, int32(4)),
			caps: []string{"multifd"}, params2: map[string]any{"multifd-channels": int32(4)}},
		{name: "parallel untuned", party: partyDest, params: tp(migParamParallelConns, int32(4)), err: "Turn parallel migration on to tune it"},
		{name: "compressed default", flags: migrateCompressed | migrateTunnelled, party: partySource, caps: []string{"xbzrle"}},
		{name: "compressed mt", flags: migrateCompressed | migrateTunnelled, party: partySource,
			params: tp(migParamCompression, "mt", migParamCompression, "xbzrle", migParamCompMTLevel, int32(3)),
			caps:   []string{"xbzrle", "compress"}, params2: map[string]any{"compress-level": int32(3)}},
		{name: "twice", params: tp(migParamCompression, "mt", migParamCompression, "mt"), party: partySource, err: "Compression method 'mt' is specified twice"},
		{name: "unknown", params: tp(migParamCompression, "zstd"), party: partySource, err: "Unsupported compression method 'zstd'"},
		{name: "xbzrle untuned", params: tp(migParamCompression, "mt", migParamCompXBZRLECache, uint64(1<<20)), party: partySource, err: "Turn xbzrle compression on to tune it"},
		{name: "mt untuned", params: tp(migParamCompMTThreads, int32(2)), party: partyDest, err: "Turn multithread compression on to tune it"},
		{name: "postcopy bandwidth", flags: migrateTunnelled, params: tp(migParamBandwidthPostcopy, uint64(10)), party: partySource,
			params2: map[string]any{"max-postcopy-bandwidth": uint64(10 << 20)}},
		{name: "postcopy bandwidth overflow", params: tp(migParamBandwidthPostcopy, ^uint64(0)), party: partySource, err: "must be less than"},
	} {
		s, err := migSettingsFor(c.flags, c.params, c.party)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(s.caps, c.caps) {
			t.Errorf("%s: caps %q, want %q", c.name, s.caps, c.caps)
		}
		if c.params2 == nil {
			c.params2 = map[string]any{}
		}
		if !reflect.DeepEqual(s.params, c.params2) {
			t.Errorf("%s: params %v, want %v", c.name, s.params, c.params2)
		}
	}
}

func TestCheckMigrateCombos(t *testing.T) {
	for flags, want := range map[uint32]string{
		migratePostcopy: "non-live or paused",
		migratePostcopy | migrateLive | migratePaused:    "non-live or paused",
		migratePostcopy | migrateLive | migrateTunnelled: "post-copy is not supported with tunnelled migration",
		migrateZeroCopy:                                        "zero-copy is only available for parallel migration",
		migrateNonSharedDisk | migrateTunnelled:                "non-shared storage is not supported with tunnelled",
		migrateLive | migratePostcopy:                          "",
		migrateLive | migrateSyncWrites | migrateNonSharedDisk: "",
	} {
		err := checkMigrateCombos(flags)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("flags %#x: %v, want %q", flags, err, want)
		}
	}
}

func TestMigJobParamsOrder(t *testing.T) {
	var st migStats
	if err := json.Unmarshal([]byte(`{"status":"active","expected-downtime":300,"setup-time":5,"total-time":1000,
		"ram":{"transferred":10,"remaining":20,"total":30,"duplicate":4,"normal":2,"normal-bytes":8192,"dirty-pages-rate":7,
		"page-size":4096,"dirty-sync-count":2,"postcopy-requests":0,"mbps":8},
		"xbzrle-cache":{"cache-size":1,"bytes":2,"pages":3,"cache-miss":4,"overflow":5},"cpu-throttle-percentage":20}`), &st); err != nil {
		t.Fatal(err)
	}
	p := migJobParams(5, 1000, st, mirrorStats{total: 100, transferred: 40}, false)
	var names []string
	for _, x := range p {
		names = append(names, x.Field)
	}
	want := "operation time_elapsed downtime setup_time data_total data_processed data_remaining memory_total memory_processed " +
		"memory_remaining memory_bps memory_constant memory_normal memory_normal_bytes memory_dirty_rate memory_iteration " +
		"memory_postcopy_requests memory_page_size disk_total disk_processed disk_remaining compression_cache compression_bytes " +
		"compression_pages compression_cache_misses compression_overflow auto_converge_throttle"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("fields:\n%s\nwant\n%s", got, want)
	}
	if p[4].Value != uint64(130) || p[6].Value != uint64(80) || p[10].Value != uint64(1000000) {
		t.Errorf("data_total %v, data_remaining %v, memory_bps %v", p[4].Value, p[6].Value, p[10].Value)
	}
}

// A disk error during a migration with --abort-on-error cancels it.
func TestMigrateAbortOnIOError(t *testing.T) {
	for _, flags := range []uint32{migrateAbortOnError, 0} {
		mon := &fakeMonitor{}
		d, v, _ := runningVM(t, mon, "")
		m := newMigration(false, flags|migrateLive, nil)
		m.started = true
		v.mu.Lock()
		v.mig = m
		v.mu.Unlock()
		d.handleEvent(v, "BLOCK_IO_ERROR", json.RawMessage(`{"device":"drive-virtio-disk0","operation":"write","action":"stop","reason":"No space left on device"}`))
		deadline := time.Now().Add(2 * time.Second)
		for !hasCmd(mon, "migrate_cancel") && time.Now().Before(deadline) && flags != 0 {
			time.Sleep(10 * time.Millisecond)
		}
		if got := hasCmd(mon, "migrate_cancel"); got != (flags != 0) || migrationIOAborted(v, m) != (flags != 0) {
			t.Errorf("flags %#x: migrate_cancel sent %v, marked %v", flags, got, migrationIOAborted(v, m))
		}
	}
}
