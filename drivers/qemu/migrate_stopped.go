package qemu

import (
	"strconv"
	"time"
)

// When the source's vCPUs stopped for a migration, as libvirt notes it
// in its STOP handler (job->current->stopped) and sends it in the
// cookie's <statistics><stopped>: a destination then counts the downtime
// from it to the moment its Finish ends, libvirt's way, rather than
// keeping QEMU's own figure.

// noteMigrationStop records the stop of an outgoing migration's guest;
// call with v.mu held (the STOP event handler).
func noteMigrationStop(v *vm) {
	if m := v.mig; m != nil && !m.Incoming {
		m.stoppedAt = time.Now()
	}
}

// withStopped sets <stopped> in a cookie's statistics to when m's guest
// stopped, if it did.
func withStopped(s *cookieStats, v *vm, m *migration) *cookieStats {
	v.mu.Lock()
	at := m.stoppedAt
	v.mu.Unlock()
	if s == nil || at.IsZero() {
		return s
	}
	for i := range s.Fields {
		if s.Fields[i].XMLName.Local == "stopped" {
			s.Fields[i].Value = strconv.FormatInt(at.UnixMilli(), 10)
		}
	}
	return s
}
