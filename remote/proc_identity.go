package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

// CONNECT_SET_IDENTITY (virConnectSetIdentity, what a proxy daemon such
// as virtproxyd sends for the client it forwards): libvirtd checks the
// parameters as virIdentitySetParameters does and, with no access
// control driver configured (Debian's default, and govirtd has none),
// takes them for root and unprivileged clients alike; flags are not
// looked at. govirtd keeps no per-client identity beyond the socket's
// peer, so the accepted identity changes nothing.
func init() {
	register(true, map[int32]procFunc{procs.ConnectSetIdentity: connectSetIdentity})
}

// identityParams are virIdentitySetParameters' fields and types.
var identityParams = map[string]string{
	"user-name":               "string",
	"unix-user-id":            "ullong",
	"group-name":              "string",
	"unix-group-id":           "ullong",
	"process-id":              "llong",
	"process-time":            "ullong",
	"sasl-user-name":          "string",
	"x509-distinguished-name": "string",
	"selinux-context":         "string",
	"system.token":            "string", // viridentity.c spells it with a dot
}

func connectSetIdentity(h *handler, body []byte) (any, error) {
	a, err := args[ConnectSetIdentityArgs](body)
	if err != nil {
		return nil, err
	}
	if err := driver.ValidateParams(paramsFromWire(a.Params), identityParams); err != nil {
		return nil, err
	}
	return nil, nil
}
