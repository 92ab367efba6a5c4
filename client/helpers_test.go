package client

import "govirt/rpc/xdr"

func xdrUnmarshal(b []byte, v any) error { return xdr.Unmarshal(b, v) }
