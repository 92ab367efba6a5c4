package qemu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"govirt/virerr"
)

// TestJobTimeout: a second modifying operation waits for the job, then
// fails with libvirt's timeout error naming the holder.
func TestJobTimeout(t *testing.T) {
	old := jobTimeout
	jobTimeout = 50 * time.Millisecond
	defer func() { jobTimeout = old }()
	j := newJobLock()
	if err := j.acquire("reboot"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := j.acquire("suspend")
	var ve *virerr.Error
	if !errors.As(err, &ve) || ve.Code != virerr.ErrOperationTimeout ||
		!strings.Contains(ve.Message, "cannot acquire state change lock (held by reboot)") {
		t.Fatalf("got %v", err)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", el)
	}
	j.release()
	if err := j.acquire("suspend"); err != nil {
		t.Fatalf("after release: %v", err)
	}
	j.release()
}
