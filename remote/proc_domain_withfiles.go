package remote

import (
	"os"

	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// fdInProcs are the procedures that take the descriptors a CALL_WITH_FDS
// passed; the rpc layer closes them when the call returns.
var fdInProcs = map[int32]func(h *handler, body []byte, files []*os.File) (any, error){
	procs.DomainCreateXMLWithFiles: domainCreateXMLWithFiles,
	procs.DomainCreateWithFiles:    domainCreateWithFiles,
	procs.DomainFdAssociate:        domainFdAssociate,
}

// fdInCall runs a procedure of fdInProcs with the checks dispatch makes.
func (h *handler) fdInCall(c *rpc.Call, fn func(h *handler, body []byte, files []*os.File) (any, error)) {
	if h.conn() == nil {
		_ = c.ReplyError(errNotOpen)
		return
	}
	if err := h.readOnlyDenied(ProgRemote, c.Proc, c.Body); err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	ret, err := fn(h, c.Body, c.FDs)
	if err == errNoSupport {
		// libvirt-domain.c raises it, as VIR_FROM_DOMAIN.
		err = virerr.New(apiErrorDomain(apiName(c.Proc)), virerr.ErrNoSupport, "%s", apiName(c.Proc))
	}
	if err != nil {
		_ = c.ReplyError(virerr.From(err))
		return
	}
	_ = c.Reply(ret)
}

func domainCreateXMLWithFiles(h *handler, body []byte, files []*os.File) (any, error) {
	a, err := args[DomainCreateXMLWithFilesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainFileStarter](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.DomainCreateXMLWithFiles(a.XMLDesc, files, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainCreateXMLWithFilesRet{Dom: wireDom(dom)}, nil
}

func domainCreateWithFiles(h *handler, body []byte, files []*os.File) (any, error) {
	a, err := args[DomainCreateWithFilesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainFileStarter](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.DomainCreateWithFiles(drvDom(a.Dom), files, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainCreateWithFilesRet{Dom: wireDom(dom)}, nil
}

func domainFdAssociate(h *handler, body []byte, files []*os.File) (any, error) {
	a, err := args[DomainFdAssociateArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainFDAssociator](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainFDAssociate(drvDom(a.Dom), a.Name, files, a.Flags)
}
