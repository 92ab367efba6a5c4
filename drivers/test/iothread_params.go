package test

import (
	"fmt"

	"govirt/driver"
	"govirt/virerr"
)

// iothreadset (virDomainSetIOThreadParams) and the iothread group of
// domstats as libvirt's test driver: each iothread's polling parameters
// live beside the definition, with 32768 ns as the starting maximum.

var _ driver.DomainIOThreadParams = (*conn)(nil)

type ioThreadPoll struct {
	id           uint32
	maxNs        uint64
	grow, shrink uint32
}

func newIOThreadPoll(id uint32) ioThreadPoll { return ioThreadPoll{id: id, maxNs: 32768} }

// initIOThreadPolls is testDomainGenerateIOThreadInfos, done for the
// domains of a node file only.
func (o *domObj) initIOThreadPolls() {
	for _, id := range o.def.IOThreadIDs() {
		o.iothreads = append(o.iothreads, newIOThreadPoll(uint32(id)))
	}
}

func (o *domObj) dropIOThreadPoll(id uint32) {
	for i, t := range o.iothreads {
		if t.id == id {
			o.iothreads = append(o.iothreads[:i:i], o.iothreads[i+1:]...)
			return
		}
	}
}

// iothreadStats is testDomainGetStatsIOThread: nothing for an inactive
// guest or one without iothreads.
func (o *domObj) iothreadStats() []driver.TypedParam {
	if !o.active() || len(o.iothreads) == 0 {
		return nil
	}
	out := []driver.TypedParam{{Field: "iothread.count", Value: uint32(len(o.iothreads))}}
	for _, t := range o.iothreads {
		out = append(out,
			driver.TypedParam{Field: fmt.Sprintf("iothread.%d.poll-max-ns", t.id), Value: t.maxNs},
			driver.TypedParam{Field: fmt.Sprintf("iothread.%d.poll-grow", t.id), Value: t.grow},
			driver.TypedParam{Field: fmt.Sprintf("iothread.%d.poll-shrink", t.id), Value: t.shrink})
	}
	return out
}

// errUnknownCause is virDispatchError's report when the driver failed
// without saying why (an iothread in the definition that has no polling
// parameters, as after a define).
func errUnknownCause() error {
	return virerr.Raw(virerr.FromNone, virerr.ErrInternalError, "An error occurred, but the cause is unknown")
}

func (in *instance) DomainSetIOThreadParams(d driver.Domain, id uint32, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, affectLive, "testDomainSetIOThreadParams"); err != nil {
		return err
	}
	if id == 0 {
		return errTest(virerr.ErrInvalidArg, "invalid value of 0 for iothread_id")
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		found := false
		for _, x := range def.IOThreadIDs() {
			if uint32(x) == id {
				found = true
			}
		}
		if !found {
			return errTest(virerr.ErrInvalidArg, "cannot find IOThread '%d' in iothreadids", id)
		}
		for i := range o.iothreads {
			t := &o.iothreads[i]
			if t.id != id {
				continue
			}
			if err := driver.ValidateParams(params, map[string]string{
				"poll_max_ns": "ullong", "poll_grow": "uint", "poll_shrink": "uint",
			}); err != nil {
				return err
			}
			for _, p := range params {
				switch p.Field {
				case "poll_max_ns":
					t.maxNs = p.Value.(uint64)
				case "poll_grow":
					t.grow = p.Value.(uint32)
				case "poll_shrink":
					t.shrink = p.Value.(uint32)
				}
			}
			return nil
		}
		return errUnknownCause()
	})
}
