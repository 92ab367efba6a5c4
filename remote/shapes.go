package remote

import "govirt/driver"

// Many procedures share an argument layout: an object, optionally
// followed by flags. XDR is structural, so decoding into these generic
// shapes lets one adapter serve every such procedure.
type objArgs[W any] struct{ Obj W }
type objFlagsArgs[W any] struct {
	Obj   W
	Flags uint32
}

type domArgs = objArgs[NonnullDomain]
type domFlagsArgs = objFlagsArgs[NonnullDomain]
type snapFlagsArgs = objFlagsArgs[NonnullDomainSnapshot]

// listRet is the reply of the list calls: {objects, count}.
type listRet[W any] struct {
	Objs []W
	Ret  uint32
}

type intRet struct{ V int32 }
type stringRet struct{ V string }

// on adapts a driver call on one object to a procedure.
func on[T, W, H any](conv func(W) H, fn func(T, H) error) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objArgs[W]](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, conv(a.Obj))
	}
}

// onFlags adapts a driver call on (object, flags) to a procedure.
func onFlags[T, W, H any](conv func(W) H, fn func(T, H, uint32) error) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objFlagsArgs[W]](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, conv(a.Obj), a.Flags)
	}
}

// query adapts a driver query on one object returning a reply value.
func query[T, W, H, R any](conv func(W) H, fn func(T, H) (R, error), wrap func(R) any) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objArgs[W]](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		r, err := fn(d, conv(a.Obj))
		if err != nil {
			return nil, err
		}
		return wrap(r), nil
	}
}

// queryFlags is query for (object, flags) arguments.
func queryFlags[T, W, H, R any](conv func(W) H, fn func(T, H, uint32) (R, error), wrap func(R) any) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objFlagsArgs[W]](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		r, err := fn(d, conv(a.Obj), a.Flags)
		if err != nil {
			return nil, err
		}
		return wrap(r), nil
	}
}

// lookup adapts a lookup by a key argument (name, uuid, path...) that
// returns an object handle.
func lookup[T, K, H, W any](fn func(T, K) (H, error), toWire func(H) W) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objArgs[K]](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		r, err := fn(d, a.Obj)
		if err != nil {
			return nil, err
		}
		return objArgs[W]{toWire(r)}, nil
	}
}

// create adapts a (xml, flags) call returning a new object handle.
func create[T, H, W any](fn func(T, string, uint32) (H, error), toWire func(H) W) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objFlagsArgs[string]](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		r, err := fn(d, a.Obj, a.Flags)
		if err != nil {
			return nil, err
		}
		return objArgs[W]{toWire(r)}, nil
	}
}

// createNoFlags is create for the legacy (xml) procedures.
func createNoFlags[T, H, W any](fn func(T, string, uint32) (H, error), toWire func(H) W) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objArgs[string]](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		r, err := fn(d, a.Obj, 0)
		if err != nil {
			return nil, err
		}
		return objArgs[W]{toWire(r)}, nil
	}
}

// setBool adapts (object, int) setters such as autostart.
func setBool[T, W, H any](conv func(W) H, fn func(T, H, bool) error) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[objFlagsArgs[W]](body) // the int travels where flags would
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, conv(a.Obj), a.Flags != 0)
	}
}

// listAll adapts the CONNECT_LIST_ALL_* family: {need_results, flags} in,
// {objects, count} out.
func listAll[T, H, W any](fn func(T, uint32) ([]H, error), toWire func(H) W) procFunc {
	return func(h *handler, body []byte) (any, error) {
		// Every CONNECT_LIST_ALL_* call has this layout.
		a, err := args[ConnectListAllDomainsArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		objs, err := fn(d, a.Flags)
		if err != nil {
			return nil, err
		}
		ret := listRet[W]{Ret: uint32(len(objs))}
		if a.NeedResults != 0 {
			ret.Objs = mapSlice(objs, toWire)
		} else {
			ret.Objs = []W{}
		}
		return ret, listBound(ret.Objs)
	}
}

// listUnder adapts the list calls scoped to an object (a domain's
// snapshots, a pool's volumes): {object, need_results, flags} in,
// {objects, count} out.
func listUnder[T, WO, HO, H, W any](conv func(WO) HO, fn func(T, HO, uint32) ([]H, error), toWire func(H) W) procFunc {
	type listArgs struct {
		Obj         WO
		NeedResults int32
		Flags       uint32
	}
	return func(h *handler, body []byte) (any, error) {
		a, err := args[listArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		objs, err := fn(d, conv(a.Obj), a.Flags)
		if err != nil {
			return nil, err
		}
		ret := listRet[W]{Objs: []W{}, Ret: uint32(len(objs))}
		if a.NeedResults != 0 {
			ret.Objs = mapSlice(objs, toWire)
		}
		return ret, listBound(ret.Objs)
	}
}

// emptyList answers CONNECT_LIST_ALL_* for object kinds no driver manages
// yet: an empty list, not an error, so listing commands work.
func emptyList[W any]() procFunc {
	return func(*handler, []byte) (any, error) { return listRet[W]{Objs: []W{}}, nil }
}

func id[T any](v T) T { return v }

func retInt(v int32) any     { return intRet{v} }
func retBool(v bool) any     { return intRet{boolInt(v)} }
func retString(v string) any { return stringRet{v} }
func retUint64(v uint64) any { return struct{ V uint64 }{v} }
func retDom(d driver.Domain) any {
	return domArgs{wireDom(d)}
}
