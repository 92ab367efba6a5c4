package qemu

import (
	"log/slog"
	"os"
	"strings"
	"time"
)

// SetJobTimeout changes how long an operation waits for the job of a
// guest held by another one (libvirt's fixed 30 s). It exists for the
// fault-injection suite, which freezes QEMU during a job and must see the
// next one time out within a test's budget; govirtd calls it only when
// GOVIRT_JOB_TIMEOUT is set. Call it before the driver starts.
func SetJobTimeout(d time.Duration) {
	if d > 0 {
		jobTimeout = d
	}
}

// jobTimeoutDelay is how long a job waiter that timed out lingers before
// it returns its error (GOVIRT_FAULT_DELAY=job_timeout:DURATION), and
// faultLog where the driver says it does. The job-lock wedge of issue 11
// needed a waiter's timeout to land between two steps of the holder's
// release, microseconds apart: the delay widens that window so that
// virsh reproduces the wedge on the old lock every time
// (TestFaultJobTimeoutWindow). Both are set once, by New, before any job.
var (
	jobTimeoutDelay time.Duration
	faultLog        = slog.Default()
)

// parseFaultDelay reads GOVIRT_FAULT_DELAY: POINT:DURATION, where the
// only point is job_timeout.
func parseFaultDelay(log *slog.Logger) {
	v := os.Getenv("GOVIRT_FAULT_DELAY")
	if v == "" {
		return
	}
	point, dur, _ := strings.Cut(v, ":")
	d, err := time.ParseDuration(dur)
	if point != "job_timeout" || err != nil || d <= 0 {
		log.Error("GOVIRT_FAULT_DELAY ignored: want job_timeout:DURATION", "value", v)
		return
	}
	jobTimeoutDelay, faultLog = d, log
}

// faultDelayed sleeps d at fault point point, saying so in the log (the
// tests wait for that line to know the window is open).
func faultDelayed(point string, d time.Duration) {
	faultLog.Warn("fault delay reached", "point", point, "delay", d.String())
	time.Sleep(d)
	faultLog.Warn("fault delay over", "point", point)
}
