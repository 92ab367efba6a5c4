package admin

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"log/slog"

	"govirt/virerr"
)

// LogControl is govirtd's slog handler, reconfigurable at run time the
// way virt-admin's daemon-log-filters and daemon-log-outputs reconfigure
// libvirtd, with libvirt's syntax:
//
//   - priorities are libvirt's: 1 debug, 2 info, 3 warning, 4 error;
//   - an output is "N:stderr" or "N:file:/abs/path"; it receives records
//     of priority N and above (journald and syslog are refused);
//   - a filter is "N:match" ("+" before match is accepted and ignored);
//     a record whose category contains match is kept when its priority is
//     N or above, whatever the default level. The category is the Go
//     package that logged it, e.g. "govirt/drivers/qemu" or "govirt/rpc".
//   - records no filter matches are kept from the default level (the
//     --log-level flag) up.
//
// Empty outputs restore the default output ("L:stderr", L the default
// level); empty filters remove all filters.
type LogControl struct {
	def  int // default priority, 1..4
	mu   sync.Mutex
	cfg  atomic.Pointer[logConfig]
	gen  atomic.Uint64
	errw io.Writer
}

type logOutput struct {
	prio int
	dest string // "stderr" or "file"
	path string
	w    io.Writer
	f    *os.File
	h    slog.Handler
}

type logFilter struct {
	prio  int
	match string
}

type logConfig struct {
	outputs []*logOutput
	filters []logFilter
	min     slog.Level // lowest level any record can pass at
	gen     uint64
}

// Priority numbers and slog levels.
func prioLevel(p int) slog.Level {
	switch p {
	case 1:
		return slog.LevelDebug
	case 2:
		return slog.LevelInfo
	case 3:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func levelPrio(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 1
	case l < slog.LevelWarn:
		return 2
	case l < slog.LevelError:
		return 3
	}
	return 4
}

// NewLogControl logs to stderr from level up, then applies outputs and
// filters (libvirt syntax; empty for the defaults).
func NewLogControl(level slog.Level, outputs, filters string) (*LogControl, error) {
	lc := &LogControl{def: levelPrio(level), errw: os.Stderr}
	lc.cfg.Store(&logConfig{})
	if err := lc.SetOutputs(outputs); err != nil {
		return nil, err
	}
	if err := lc.SetFilters(filters); err != nil {
		return nil, err
	}
	return lc, nil
}

// Logger returns a logger writing through the control.
func (lc *LogControl) Logger() *slog.Logger { return slog.New(&logHandler{lc: lc}) }

func invalid(format string, args ...any) error {
	return virerr.New(virerr.FromNone, virerr.ErrInvalidArg, format, args...)
}

func parsePrio(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= 4
}

// SetOutputs replaces the outputs (virLogSetOutputs).
func (lc *LogControl) SetOutputs(spec string) error {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		spec = fmt.Sprintf("%d:stderr", lc.def)
	}
	var outs []*logOutput
	closeAll := func() {
		for _, o := range outs {
			if o.f != nil {
				o.f.Close()
			}
		}
	}
	for _, src := range strings.Fields(spec) {
		tok := strings.Split(src, ":")
		if len(tok) < 2 {
			closeAll()
			return invalid("Malformed format for log output '%s'", src)
		}
		p, ok := parsePrio(tok[0])
		if !ok {
			closeAll()
			return invalid("Invalid log priority '%s' for log output '%s'", tok[0], src)
		}
		o := &logOutput{prio: p, dest: tok[1]}
		switch {
		case tok[1] == "stderr" && len(tok) == 2:
			o.w = lc.errw
		case tok[1] == "file" && len(tok) == 3 && strings.HasPrefix(tok[2], "/"):
			f, err := os.OpenFile(tok[2], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				closeAll()
				return virerr.New(virerr.FromNone, virerr.ErrSystemError, "failed to open %s: %v", tok[2], err)
			}
			o.path, o.f, o.w = tok[2], f, f
		case tok[1] == "stderr" || tok[1] == "file":
			closeAll()
			return invalid("Log output '%s' does not meet the format requirements for destination type '%s'", src, tok[1])
		default:
			closeAll()
			return invalid("Invalid log destination '%s' for log output '%s'", tok[1], src)
		}
		o.h = slog.NewTextHandler(o.w, &slog.HandlerOptions{Level: slog.LevelDebug})
		outs = append(outs, o)
	}
	lc.mu.Lock()
	old := lc.cfg.Load()
	lc.store(outs, old.filters)
	lc.mu.Unlock()
	for _, o := range old.outputs {
		if o.f != nil {
			o.f.Close()
		}
	}
	return nil
}

// SetFilters replaces the filters (virLogSetFilters).
func (lc *LogControl) SetFilters(spec string) error {
	var fs []logFilter
	for _, src := range strings.Fields(spec) {
		tok := strings.Split(src, ":")
		if len(tok) < 2 {
			return invalid("Malformed format for filter '%s'", src)
		}
		p, ok := parsePrio(tok[0])
		if !ok {
			return invalid("Invalid priority '%s' for filter '%s'", tok[0], src)
		}
		m := strings.TrimPrefix(tok[1], "+")
		if m == "" {
			return invalid("Invalid match string '%s'", tok[1])
		}
		fs = append(fs, logFilter{prio: p, match: m})
	}
	lc.mu.Lock()
	lc.store(lc.cfg.Load().outputs, fs)
	lc.mu.Unlock()
	return nil
}

// store publishes a new configuration; called with lc.mu held.
func (lc *LogControl) store(outs []*logOutput, fs []logFilter) {
	minP := lc.def
	for _, f := range fs {
		minP = min(minP, f.prio)
	}
	outMin := 4
	for _, o := range outs {
		outMin = min(outMin, o.prio)
	}
	lc.cfg.Store(&logConfig{outputs: outs, filters: fs, min: prioLevel(max(minP, outMin)), gen: lc.gen.Add(1)})
}

// Outputs is the outputs in libvirt's syntax and their number.
func (lc *LogControl) Outputs() (string, int) {
	cfg := lc.cfg.Load()
	parts := make([]string, 0, len(cfg.outputs))
	for _, o := range cfg.outputs {
		if o.dest == "file" {
			parts = append(parts, fmt.Sprintf("%d:file:%s", o.prio, o.path))
		} else {
			parts = append(parts, fmt.Sprintf("%d:%s", o.prio, o.dest))
		}
	}
	return strings.Join(parts, " "), len(parts)
}

// Filters is the filters in libvirt's syntax (each followed by a space,
// as libvirt prints them) and their number.
func (lc *LogControl) Filters() (string, int) {
	cfg := lc.cfg.Load()
	var b strings.Builder
	for _, f := range cfg.filters {
		fmt.Fprintf(&b, "%d:%s ", f.prio, f.match)
	}
	return b.String(), len(cfg.filters)
}

// logHandler is one (possibly derived) handler; derived handlers replay
// their WithAttrs/WithGroup steps on each output's handler, cached per
// configuration.
type logHandler struct {
	lc    *LogControl
	ops   []func(slog.Handler) slog.Handler
	cache atomic.Pointer[derived]
}

type derived struct {
	gen uint64
	hs  []slog.Handler
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.lc.cfg.Load().min
}

func (h *logHandler) handlers(cfg *logConfig) []slog.Handler {
	if d := h.cache.Load(); d != nil && d.gen == cfg.gen {
		return d.hs
	}
	hs := make([]slog.Handler, len(cfg.outputs))
	for i, o := range cfg.outputs {
		x := o.h
		for _, op := range h.ops {
			x = op(x)
		}
		hs[i] = x
	}
	h.cache.Store(&derived{gen: cfg.gen, hs: hs})
	return hs
}

// category is the package path of the function that logged the record.
func category(pc uintptr) string {
	if pc == 0 {
		return ""
	}
	fr, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	name := fr.Function
	slash := strings.LastIndexByte(name, '/')
	if dot := strings.IndexByte(name[slash+1:], '.'); dot >= 0 {
		return name[:slash+1+dot]
	}
	return name
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	cfg := h.lc.cfg.Load()
	p := levelPrio(r.Level)
	need := h.lc.def
	if len(cfg.filters) > 0 {
		cat := category(r.PC)
		for _, f := range cfg.filters {
			if strings.Contains(cat, f.match) {
				need = f.prio
				break
			}
		}
	}
	if p < need {
		return nil
	}
	for i, x := range h.handlers(cfg) {
		if p >= cfg.outputs[i].prio {
			_ = x.Handle(ctx, r.Clone())
		}
	}
	return nil
}

func (h *logHandler) with(op func(slog.Handler) slog.Handler) *logHandler {
	ops := append(append([]func(slog.Handler) slog.Handler{}, h.ops...), op)
	return &logHandler{lc: h.lc, ops: ops}
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithAttrs(as) })
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
}
