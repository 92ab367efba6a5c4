package remote

import (
	"govirt/rpc/xdr"
)

// TypedParam is remote_typed_param.
type TypedParam = xdr.TypedParam

// args decodes a procedure's arguments; malformed input is the caller's
// fault and is reported as libvirt does for undecodable payloads. Argument
// structs with count arguments are checked here (counts.go), before any
// handler can size anything from them.
func args[A any](body []byte) (A, error) {
	var a A
	if err := xdr.Unmarshal(body, &a); err != nil {
		return a, errDecode
	}
	if c, ok := any(&a).(countChecker); ok {
		if err := c.checkCounts(); err != nil {
			return a, err
		}
	}
	return a, nil
}
