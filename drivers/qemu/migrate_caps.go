package qemu

import (
	"context"
	"math"

	"govirt/driver"
	"govirt/virerr"
)

// The QEMU migration capabilities and parameters a migration's flags and
// typed parameters ask for, on each side, as libvirt 9.0's
// qemuMigrationParamsFromFlags: the same flag and parameter maps, the same
// refusals, and a reset once the migration is over so that a later save
// (also a migration, to a file) does not inherit them.

// More virDomainMigrateFlags.
const (
	migrateCompressed = 1 << 11
	migrateRDMAPinAll = 1 << 14
	migrateTLS        = 1 << 16
	migrateParallel   = 1 << 17
	migrateSyncWrites = 1 << 18
	migrateZeroCopy   = 1 << 20
)

// More VIR_MIGRATE_PARAM_* names.
const (
	migParamBandwidthPostcopy = "bandwidth.postcopy"
	migParamCompression       = "compression"
	migParamCompMTLevel       = "compression.mt.level"
	migParamCompMTThreads     = "compression.mt.threads"
	migParamCompMTDThreads    = "compression.mt.dthreads"
	migParamCompXBZRLECache   = "compression.xbzrle.cache"
	migParamACInitial         = "auto_converge.initial"
	migParamACIncrement       = "auto_converge.increment"
	migParamParallelConns     = "parallel.connections"
	migParamTLSDestination    = "tls.destination"
)

const (
	partySource = 1 << iota
	partyDest
)

// migFlagCaps is qemuMigrationParamsFlagMap: a capability turned on when
// its flag is set (or, forbidden, when it is not).
var migFlagCaps = []struct {
	flag      uint32
	forbidden bool
	cap       string
	party     int
}{
	{migrateRDMAPinAll, false, "rdma-pin-all", partySource | partyDest},
	{migrateAutoConverge, false, "auto-converge", partySource},
	{migratePostcopy, false, "postcopy-ram", partySource | partyDest},
	{migrateParallel, false, "multifd", partySource | partyDest},
	{migrateTunnelled, true, "return-path", partySource | partyDest},
	{migrateZeroCopy, false, "zero-copy-send", partySource},
}

// migTypedParams is qemuMigrationParamsTPMap: typed parameter, QEMU
// parameter, its kind ('i' int, 'u' unsigned long long, 's' string), unit.
var migTypedParams = []struct {
	typed, param string
	kind         byte
	unit         uint64
	party        int
}{
	{migParamACInitial, "cpu-throttle-initial", 'i', 0, partySource},
	{migParamACIncrement, "cpu-throttle-increment", 'i', 0, partySource},
	{migParamCompMTLevel, "compress-level", 'i', 0, partySource | partyDest},
	{migParamCompMTThreads, "compress-threads", 'i', 0, partySource | partyDest},
	{migParamCompMTDThreads, "decompress-threads", 'i', 0, partySource | partyDest},
	{migParamCompXBZRLECache, "xbzrle-cache-size", 'u', 0, partySource | partyDest},
	{migParamBandwidthPostcopy, "max-postcopy-bandwidth", 'u', 1024 * 1024, partySource | partyDest},
	{migParamParallelConns, "multifd-channels", 'i', 0, partySource | partyDest},
	{migParamTLSDestination, "tls-hostname", 's', 0, partySource},
}

// migSettings is what one side sets in QEMU for one migration.
type migSettings struct {
	caps   []string       // capabilities turned on, in libvirt's order
	params map[string]any // migrate-set-parameters members
}

// migSettingsFor computes the settings of party for flags and params, or
// libvirt's error for a combination it refuses.
func migSettingsFor(flags uint32, params []driver.TypedParam, party int) (*migSettings, error) {
	s := &migSettings{params: map[string]any{}}
	for _, f := range migFlagCaps {
		set := flags&f.flag != 0
		if f.party&party != 0 && set != f.forbidden {
			s.caps = append(s.caps, f.cap)
		}
	}
	isSet := map[string]bool{}
	for _, tp := range migTypedParams {
		if tp.party&party == 0 {
			continue
		}
		p, ok := lastParam(params, tp.typed)
		if !ok {
			continue
		}
		isSet[tp.typed] = true
		switch tp.kind {
		case 'i':
			n, ok := p.Value.(int32)
			if !ok {
				return nil, errParamType(tp.typed, "int")
			}
			s.params[tp.param] = n
		case 'u':
			n, ok := p.Value.(uint64)
			if !ok {
				return nil, errParamType(tp.typed, "ullong")
			}
			if tp.unit > 0 {
				max := uint64(math.MaxUint64) / tp.unit
				if n > max {
					return nil, errQEMU(virerr.ErrOverflow, "migration parameter '%s' must be less than %d", tp.typed, max+1)
				}
				n *= tp.unit
			}
			s.params[tp.param] = n
		case 's':
			str, ok := p.Value.(string)
			if !ok {
				return nil, errParamType(tp.typed, "string")
			}
			s.params[tp.param] = str
		}
	}
	if (isSet[migParamACInitial] || isSet[migParamACIncrement]) && flags&migrateAutoConverge == 0 {
		return nil, errQEMU(virerr.ErrInvalidArg, "%s", "Turn auto convergence on to tune it")
	}
	if isSet[migParamParallelConns] && flags&migrateParallel == 0 {
		return nil, errQEMU(virerr.ErrInvalidArg, "%s", "Turn parallel migration on to tune it")
	}
	// Compression methods (qemuMigrationParamsSetCompression).
	methods := map[string]bool{}
	for _, p := range params {
		if p.Field != migParamCompression {
			continue
		}
		m, _ := p.Value.(string)
		if m != "xbzrle" && m != "mt" {
			return nil, errQEMU(virerr.ErrInvalidArg, "Unsupported compression method '%s'", m)
		}
		if methods[m] {
			return nil, errQEMU(virerr.ErrInvalidArg, "Compression method '%s' is specified twice", m)
		}
		methods[m] = true
	}
	if (isSet[migParamCompMTLevel] || isSet[migParamCompMTThreads] || isSet[migParamCompMTDThreads]) && !methods["mt"] {
		return nil, errQEMU(virerr.ErrInvalidArg, "%s", "Turn multithread compression on to tune it")
	}
	if isSet[migParamCompXBZRLECache] && !methods["xbzrle"] {
		return nil, errQEMU(virerr.ErrInvalidArg, "%s", "Turn xbzrle compression on to tune it")
	}
	if len(methods) == 0 && flags&migrateCompressed != 0 {
		methods["xbzrle"] = true
	}
	// libvirt's capability order: xbzrle first, compress after the
	// flag-mapped ones.
	if methods["xbzrle"] {
		s.caps = append([]string{"xbzrle"}, s.caps...)
	}
	if methods["mt"] {
		s.caps = append(s.caps, "compress")
	}
	return s, nil
}

func errParamType(name, want string) error {
	return errQEMU(virerr.ErrInvalidArg, "invalid type for parameter '%s', expected '%s'", name, want)
}

// lastParam is virTypedParamsGet*: the first parameter of that name.
func lastParam(params []driver.TypedParam, name string) (driver.TypedParam, bool) {
	for _, p := range params {
		if p.Field == name {
			return p, true
		}
	}
	return driver.TypedParam{}, false
}

// apply checks that QEMU has every capability asked for (libvirt's
// "not supported by QEMU binary"), turns them on, off the rest it may
// have on from an earlier migration, and sets the parameters.
func (s *migSettings) apply(ctx context.Context, mon monitor) error {
	var have []struct {
		Capability string `json:"capability"`
		State      bool   `json:"state"`
	}
	if err := mon.Execute(ctx, "query-migrate-capabilities", nil, &have); err != nil {
		return qmpFailed("query-migrate-capabilities", err)
	}
	known := map[string]bool{}
	for _, c := range have {
		known[c.Capability] = true
	}
	want := map[string]bool{}
	for _, c := range s.caps {
		if !known[c] {
			return errQEMU(virerr.ErrArgumentUnsupported, "Migration option '%s' is not supported by QEMU binary", c)
		}
		want[c] = true
	}
	var set []map[string]any
	for _, f := range migFlagCaps {
		if known[f.cap] {
			set = append(set, map[string]any{"capability": f.cap, "state": want[f.cap]})
		}
	}
	for _, c := range []string{"xbzrle", "compress"} {
		if known[c] {
			set = append(set, map[string]any{"capability": c, "state": want[c]})
		}
	}
	if len(set) > 0 {
		if err := mon.Execute(ctx, "migrate-set-capabilities", map[string]any{"capabilities": set}, nil); err != nil {
			return qmpFailed("migrate-set-capabilities", err)
		}
	}
	if len(s.params) > 0 {
		if err := mon.Execute(ctx, "migrate-set-parameters", s.params, nil); err != nil {
			return qmpFailed("migrate-set-parameters", err)
		}
	}
	return nil
}

// resetMigSettings turns off the capabilities a migration turned on, as
// libvirt's qemuMigrationParamsReset, once the guest stays on this side.
func resetMigSettings(ctx context.Context, mon monitor) {
	if mon == nil {
		return
	}
	var have []struct {
		Capability string `json:"capability"`
		State      bool   `json:"state"`
	}
	if mon.Execute(ctx, "query-migrate-capabilities", nil, &have) != nil {
		return
	}
	var set []map[string]any
	for _, c := range have {
		if c.State && resettableCap(c.Capability) {
			set = append(set, map[string]any{"capability": c.Capability, "state": false})
		}
	}
	if len(set) > 0 {
		_ = mon.Execute(ctx, "migrate-set-capabilities", map[string]any{"capabilities": set}, nil)
	}
}

func resettableCap(c string) bool {
	if c == "xbzrle" || c == "compress" {
		return true
	}
	for _, f := range migFlagCaps {
		if f.cap == c {
			return true
		}
	}
	return false
}

// migSettingsParty computes and applies the settings of one side; the
// destination's come from the flags and parameters Prepare got.
func applyMigSettings(ctx context.Context, mon monitor, flags uint32, params []driver.TypedParam, party int) error {
	s, err := migSettingsFor(flags, params, party)
	if err != nil {
		return err
	}
	return s.apply(ctx, mon)
}

// abortMigrationOnIOError cancels an outgoing migration started with
// --abort-on-error once a disk error pauses the guest, as libvirt's
// check of the paused/I/O error state while it waits for QEMU.
func (d *Driver) abortMigrationOnIOError(v *vm) {
	v.mu.Lock()
	m, mon := v.mig, v.mon
	abort := m != nil && !m.Incoming && m.started && !m.Postcopy && m.Flags&migrateAbortOnError != 0 && mon != nil
	if abort {
		m.ioAbort = true
	}
	v.mu.Unlock()
	if abort {
		// Not on the event goroutine: QMP answers come through it.
		go func() { _ = mon.Execute(context.Background(), "migrate_cancel", nil, nil) }()
	}
}

func migrationIOAborted(v *vm, m *migration) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return m.ioAbort
}
