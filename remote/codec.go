package remote

import (
	"govirt/rpc/xdr"
	"govirt/virerr"
)

// TypedParam is remote_typed_param.
type TypedParam = xdr.TypedParam

// args decodes a procedure's arguments; malformed input is the caller's
// fault and is reported as libvirt does for undecodable payloads.
func args[A any](body []byte) (A, error) {
	var a A
	if err := xdr.Unmarshal(body, &a); err != nil {
		return a, virerr.New(virerr.FromRPC, virerr.ErrRPC, "Unable to decode message payload")
	}
	return a, nil
}
