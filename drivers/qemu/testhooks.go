package qemu

import "time"

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
