package remote

import (
	"strings"

	"govirt/rpc/procs"
	"govirt/virerr"
)

// readOnlyDenied applies libvirt's read-only rules (procs.Info.ReadOnly,
// generated from the public APIs that check VIR_CONNECT_RO) to one call on
// a read-only connection: most procedures are refused outright, a few only
// for some flags or argument values, and the XML getters refuse their
// secure flags with a message of their own.
func (h *handler) readOnlyDenied(prog uint32, proc int32, body []byte) error {
	info := procs.Lookup(prog, proc)
	if info == nil || len(info.ReadOnly) == 0 || !h.isReadOnly() {
		return nil
	}
	dom := apiErrorDomain(info.API)
	if prog != ProgRemote {
		dom = virerr.FromNone // libvirt-qemu.c and libvirt-lxc.c raise without a domain
	}
	for _, r := range info.ReadOnly {
		if r.Kind != procs.ROAlways {
			v, err := readOnlyArg(prog, proc, body)
			if err != nil {
				return errDecode
			}
			if (r.Kind == procs.ROEquals && v != r.Value) || (r.Kind != procs.ROEquals && v&r.Value == 0) {
				continue
			}
		}
		if r.Kind == procs.ROSecure {
			return virerr.New(dom, virerr.ErrOperationDenied, "%s", r.Message)
		}
		return virerr.New(dom, virerr.ErrOperationDenied, "read only access prevents %s", info.API)
	}
	return nil
}

// errDecode is libvirt's answer to a payload it cannot decode.
var errDecode = virerr.New(virerr.FromRPC, virerr.ErrRPC, "Unable to decode message payload")

// apiName is the public API of a REMOTE procedure, as libvirt spells it in
// its errors ("virDomainGetXMLDesc"); the name comes from the generated
// table, matched against libvirt's exported symbols.
func apiName(proc int32) string {
	if i := procs.Lookup(ProgRemote, proc); i != nil {
		return i.API
	}
	return ""
}

// apiErrorDomain is the error domain of the libvirt source file that holds
// a public API function, which is where libvirt raises the read-only error.
func apiErrorDomain(api string) virerr.Domain {
	switch {
	case strings.HasPrefix(api, "virDomainSnapshot"), api == "virDomainRevertToSnapshot",
		api == "virDomainHasCurrentSnapshot", api == "virDomainListAllSnapshots":
		return virerr.FromDomainSnapshot
	case strings.HasPrefix(api, "virDomainCheckpoint"), api == "virDomainListAllCheckpoints":
		return virerr.FromDomainCheckpoint
	case strings.HasPrefix(api, "virDomain"):
		return virerr.FromDomain
	case strings.HasPrefix(api, "virNetwork"):
		return virerr.FromNetwork
	case strings.HasPrefix(api, "virStorage"):
		return virerr.FromStorage
	case strings.HasPrefix(api, "virInterface"):
		return virerr.FromInterface
	case strings.HasPrefix(api, "virSecret"):
		return virerr.FromSecret
	case strings.HasPrefix(api, "virNodeDevice"):
		return virerr.FromNodedev
	case strings.HasPrefix(api, "virNWFilter"), strings.Contains(api, "NWFilter"):
		return virerr.FromNwfilter
	case strings.HasPrefix(api, "virNode"):
		// libvirt-host.c reports as VIR_FROM_DOMAIN.
		return virerr.FromDomain
	}
	return virerr.FromNone
}
