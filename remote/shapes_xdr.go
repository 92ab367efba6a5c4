package remote

import (
	"govirt/rpc/xdr"
	"govirt/virerr"
)

// XDR methods for the generic shapes of shapes.go, so that the calls they
// serve (GET_INFO, the lookups, the LIST_ALL family: the hot ones) skip
// the reflection codec like the generated structs do. The element type is
// known only at run time here; the switch covers every type the shapes are
// instantiated with and falls back to reflection for anything else.

// The concrete cases come first: matching them is a pointer comparison,
// while an interface case costs an itab lookup per value.
func encodeAny(e *xdr.Encoder, p any) error {
	switch v := p.(type) {
	case *NonnullDomain:
		return v.MarshalXDR(e)
	case *NonnullNetwork:
		return v.MarshalXDR(e)
	case *NonnullStoragePool:
		return v.MarshalXDR(e)
	case *NonnullStorageVol:
		return v.MarshalXDR(e)
	case *NonnullDomainSnapshot:
		return v.MarshalXDR(e)
	case xdr.Marshaler:
		return v.MarshalXDR(e)
	case *string:
		if len(*v) > RemoteStringMax {
			return xdr.ErrTooLong
		}
		e.String(*v)
	case *int32:
		e.Int32(*v)
	case *uint32:
		e.Uint32(*v)
	case *uint64:
		e.Uint64(*v)
	case *[16]byte:
		e.FixedOpaque(v[:])
	default:
		return e.Encode(p)
	}
	return nil
}

func decodeAny(d *xdr.Decoder, p any) error {
	var err error
	switch v := p.(type) {
	case *NonnullDomain:
		return v.UnmarshalXDR(d)
	case *NonnullNetwork:
		return v.UnmarshalXDR(d)
	case *NonnullStoragePool:
		return v.UnmarshalXDR(d)
	case *NonnullStorageVol:
		return v.UnmarshalXDR(d)
	case *NonnullDomainSnapshot:
		return v.UnmarshalXDR(d)
	case xdr.Unmarshaler:
		return v.UnmarshalXDR(d)
	case *string:
		*v, err = d.String(RemoteStringMax)
	case *int32:
		*v, err = d.Int32()
	case *uint32:
		*v, err = d.Uint32()
	case *uint64:
		*v, err = d.Uint64()
	case *[16]byte:
		err = d.FixedOpaque(v[:])
	default:
		err = d.Decode(p)
	}
	return err
}

func (a objArgs[W]) MarshalXDR(e *xdr.Encoder) error { return encodeAny(e, &a.Obj) }

func (a *objArgs[W]) UnmarshalXDR(d *xdr.Decoder) error { return decodeAny(d, &a.Obj) }

func (a objFlagsArgs[W]) MarshalXDR(e *xdr.Encoder) error {
	if err := encodeAny(e, &a.Obj); err != nil {
		return err
	}
	e.Uint32(a.Flags)
	return nil
}

func (a *objFlagsArgs[W]) UnmarshalXDR(d *xdr.Decoder) error {
	if err := decodeAny(d, &a.Obj); err != nil {
		return err
	}
	var err error
	a.Flags, err = d.Uint32()
	return err
}

// MarshalXDR writes the list. Replies are our own data; the count bound is
// still checked so a reply can never exceed what libvirt's clients accept.
func (r listRet[W]) MarshalXDR(e *xdr.Encoder) error {
	if len(r.Objs) > xdr.ArrayMax {
		return xdr.ErrTooLong
	}
	e.Uint32(uint32(len(r.Objs)))
	// The common lists are encoded without a type switch per element.
	switch objs := any(r.Objs).(type) {
	case []NonnullDomain:
		for i := range objs {
			if err := objs[i].MarshalXDR(e); err != nil {
				return err
			}
		}
	default:
		for i := range r.Objs {
			if err := encodeAny(e, &r.Objs[i]); err != nil {
				return err
			}
		}
	}
	e.Uint32(r.Ret)
	return nil
}

func (r *listRet[W]) UnmarshalXDR(d *xdr.Decoder) error {
	n, err := d.Count(xdr.ArrayMax, 4)
	if err != nil {
		return err
	}
	r.Objs = make([]W, n)
	for i := range r.Objs {
		if err := decodeAny(d, &r.Objs[i]); err != nil {
			return err
		}
	}
	r.Ret, err = d.Uint32()
	return err
}

func (r intRet) MarshalXDR(e *xdr.Encoder) error { e.Int32(r.V); return nil }

func (r *intRet) UnmarshalXDR(d *xdr.Decoder) error {
	var err error
	r.V, err = d.Int32()
	return err
}

func (r stringRet) MarshalXDR(e *xdr.Encoder) error { return encodeAny(e, &r.V) }

func (r *stringRet) UnmarshalXDR(d *xdr.Decoder) error { return decodeAny(d, &r.V) }

// listBound is the check libvirt's generated dispatcher makes before it
// replies to a CONNECT_LIST_ALL_* call: a list over the .x bound would be
// refused by every libvirt client, so it is an error here already.
func listBound[W any](objs []W) error {
	var max int
	var kind string
	switch any(objs).(type) {
	case []NonnullDomain:
		max, kind = RemoteDomainListMax, "domain"
	case []NonnullNetwork:
		max, kind = RemoteNetworkListMax, "network"
	case []NonnullInterface:
		max, kind = RemoteInterfaceListMax, "interface"
	case []NonnullStoragePool:
		max, kind = RemoteStoragePoolListMax, "storage_pool"
	case []NonnullStorageVol:
		max, kind = RemoteStorageVolListMax, "storage_vol"
	case []NonnullDomainSnapshot:
		max, kind = RemoteDomainSnapshotListMax, "domain_snapshot"
	case []NonnullSecret:
		max, kind = RemoteSecretListMax, "secret"
	default:
		return nil
	}
	if len(objs) > max {
		return virerr.New(virerr.FromRPC, virerr.ErrInternalError, "Too many %ss '%d' for limit '%d'", kind, len(objs), max)
	}
	return nil
}
