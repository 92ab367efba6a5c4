package qemu

import (
	"time"

	"govirt/virerr"
)

// jobTimeout is how long an operation waits for another one on the same
// guest before giving up, as libvirt's job wait.
var jobTimeout = 30 * time.Second

// jobLock serialises modifying operations on one guest. It is a channel so
// waiting can time out.
type jobLock struct {
	ch    chan struct{}
	owner chan string // name of the holder, for the error message
}

func newJobLock() *jobLock {
	return &jobLock{ch: make(chan struct{}, 1), owner: make(chan string, 1)}
}

// acquire takes the job for op, or fails with libvirt's timeout error
// naming the operation that holds it.
func (j *jobLock) acquire(op string) error {
	t := time.NewTimer(jobTimeout)
	defer t.Stop()
	select {
	case j.ch <- struct{}{}:
		j.owner <- op
		return nil
	case <-t.C:
		holder := "unknown"
		select {
		case holder = <-j.owner:
			j.owner <- holder
		default:
		}
		return virerr.New(virerr.FromQemu, virerr.ErrOperationTimeout,
			"cannot acquire state change lock (held by %s)", holder)
	}
}

func (j *jobLock) release() {
	select {
	case <-j.owner:
	default:
	}
	<-j.ch
}
