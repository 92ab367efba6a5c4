package remote

import (
	"os"

	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/virerr"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainSetMemoryStatsPeriod: domainSetMemoryStatsPeriod,
		procs.ConnectDomainXMLToNative:   connectDomainXMLToNative,
	})
}

func domainSetMemoryStatsPeriod(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetMemoryStatsPeriodArgs](body)
	if err != nil {
		return nil, err
	}
	// virDomainSetMemoryStatsPeriod checks this before the driver.
	if a.Period < 0 {
		return nil, errNegative("period", "virDomainSetMemoryStatsPeriod")
	}
	d, err := need[driver.DomainMemoryStatsPeriodSetter](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetMemoryStatsPeriod(drvDom(a.Dom), a.Period, a.Flags)
}

func connectDomainXMLToNative(h *handler, body []byte) (any, error) {
	a, err := args[ConnectDomainXMLToNativeArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainXMLToNativer](h)
	if err != nil {
		return nil, err
	}
	s, err := d.ConnectDomainXMLToNative(a.NativeFormat, a.DomainXml, a.Flags)
	if err != nil {
		return nil, err
	}
	return ConnectDomainXMLToNativeRet{NativeConfig: s}, nil
}

// fdProcs are the procedures whose reply carries descriptors.
var fdProcs = map[int32]func(h *handler, body []byte) ([]*os.File, error){
	procs.DomainOpenGraphicsFd: openGraphicsFD,
}

// fdCall runs a procedure of fdProcs and replies with its descriptors
// (REPLY_WITH_FDS), closing them once sent.
func (h *handler) fdCall(c *rpc.Call, fn func(h *handler, body []byte) ([]*os.File, error)) {
	if h.conn() == nil {
		_ = c.ReplyError(errNotOpen)
		return
	}
	if err := h.readOnlyDenied(ProgRemote, c.Proc, c.Body); err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	files, err := fn(h, c.Body)
	if err == errNoSupport {
		err = virerr.New(virerr.FromNone, virerr.ErrNoSupport, "%s", apiName(c.Proc))
	}
	if err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	_ = c.ReplyWithFDs(nil, files)
	for _, f := range files {
		f.Close()
	}
}

func openGraphicsFD(h *handler, body []byte) ([]*os.File, error) {
	a, err := args[DomainOpenGraphicsFdArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGraphicsFDOpener](h)
	if err != nil {
		return nil, err
	}
	f, err := d.DomainOpenGraphicsFD(drvDom(a.Dom), a.Idx, a.Flags)
	if err != nil {
		return nil, err
	}
	return []*os.File{f}, nil
}
