package remote

import (
	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// virDomainOpenChannel is a stream procedure like the console's: the
// channel is claimed before the reply, so a busy or missing channel is
// the call's error.
func init() { openStreamProcs[procs.DomainOpenChannel] = openChannel }

func openChannel(h *handler, body []byte) (opened, error) {
	a, err := args[DomainOpenChannelArgs](body)
	if err != nil {
		return opened{}, err
	}
	d, err := need[driver.DomainChannels](h)
	if err != nil {
		return opened{}, err
	}
	sess, err := d.DomainOpenChannel(drvDom(a.Dom), optString(a.Name), a.Flags)
	if err != nil {
		return opened{}, err
	}
	return opened{
		serve: func(st *rpc.Stream) error {
			err := sess.Serve(st)
			if err == driver.ErrConsoleTakenOver {
				return virerr.New(virerr.FromStreams, virerr.ErrRPC, "stream had I/O failure")
			}
			return err
		},
		release: sess.Release,
	}, nil
}
