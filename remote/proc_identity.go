package remote

import (
	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
)

// CONNECT_SET_IDENTITY (virConnectSetIdentity, what a proxy daemon such
// as virtproxyd sends for the client it forwards): libvirtd checks the
// parameters as virIdentitySetParameters does and, once the access check
// (connect:write) passed, replaces the client's identity with the one
// given, which the access rules then see; flags are not looked at.
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
	params := paramsFromWire(a.Params)
	if err := driver.ValidateParams(params, identityParams); err != nil {
		return nil, err
	}
	id := rpc.Identity{Transport: h.identity().Transport}
	for _, p := range params {
		switch v := p.Value.(type) {
		case string:
			switch p.Field {
			case "user-name":
				id.UserName = v
			case "group-name":
				id.GroupName, id.Groups = v, []string{v}
			case "sasl-user-name":
				id.SASLUser = v
			case "x509-distinguished-name":
				id.X509DName = v
			}
		case uint64:
			switch p.Field {
			case "unix-user-id":
				id.Unix, id.UID = true, uint32(v)
			case "unix-group-id":
				id.Unix, id.GID = true, uint32(v)
			}
		case int64:
			if p.Field == "process-id" {
				id.PID = int32(v)
			}
		}
	}
	h.mu.Lock()
	h.setIdent = &id
	h.mu.Unlock()
	return nil, nil
}
