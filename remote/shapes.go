package remote

import "govirt/driver"

// Many procedures share an argument layout; decoding into these shared
// shapes (XDR is structural) lets one adapter serve them all.
type domArgs struct{ Dom NonnullDomain }
type domFlagsArgs struct {
	Dom   NonnullDomain
	Flags uint32
}
type netArgs struct{ Net NonnullNetwork }
type poolArgs struct{ Pool NonnullStoragePool }
type poolFlagsArgs struct {
	Pool  NonnullStoragePool
	Flags uint32
}
type volArgs struct{ Vol NonnullStorageVol }
type volFlagsArgs struct {
	Vol   NonnullStorageVol
	Flags uint32
}
type snapFlagsArgs struct {
	Snap  NonnullDomainSnapshot
	Flags uint32
}
type intRet struct{ V int32 }
type uintRet struct{ V uint32 }
type stringRet struct{ V string }

// onDom adapts a driver call on (domain) to a procedure.
func onDom[T any](fn func(T, driver.Domain) error) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[domArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, drvDom(a.Dom))
	}
}

// onDomFlags adapts a driver call on (domain, flags) to a procedure.
func onDomFlags[T any](fn func(T, driver.Domain, uint32) error) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[domFlagsArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, drvDom(a.Dom), a.Flags)
	}
}

// domQuery adapts a driver query on (domain) returning a value for the reply.
func domQuery[T, R any](fn func(T, driver.Domain) (R, error), wrap func(R) any) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[domArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		r, err := fn(d, drvDom(a.Dom))
		if err != nil {
			return nil, err
		}
		return wrap(r), nil
	}
}

// domFlagsQuery is domQuery for (domain, flags) arguments.
func domFlagsQuery[T, R any](fn func(T, driver.Domain, uint32) (R, error), wrap func(R) any) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[domFlagsArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[T](h)
		if err != nil {
			return nil, err
		}
		r, err := fn(d, drvDom(a.Dom), a.Flags)
		if err != nil {
			return nil, err
		}
		return wrap(r), nil
	}
}

func retInt(v int32) any     { return intRet{v} }
func retBool(v bool) any     { return intRet{boolInt(v)} }
func retString(v string) any { return stringRet{v} }
func retDom(d driver.Domain) any {
	return domArgs{wireDom(d)}
}
