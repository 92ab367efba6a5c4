package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainGetSecurityLabelList: domainGetSecurityLabelList,
	})
}

// domainGetSecurityLabelList: libvirtd answers a failed
// virDomainGetSecurityLabelList (a driver without it, such as the test
// driver, or any error) with success and ret -1, so the client reports an
// error of unknown cause.
func domainGetSecurityLabelList(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetSecurityLabelListArgs](body)
	if err != nil {
		return nil, err
	}
	failed := DomainGetSecurityLabelListRet{Labels: []DomainGetSecurityLabelRet{}, Ret: -1}
	d, err := need[driver.DomainSecurityLabelLister](h)
	if err != nil {
		return failed, nil
	}
	labels, err := d.DomainGetSecurityLabelList(drvDom(a.Dom))
	if err != nil {
		return failed, nil
	}
	ret := DomainGetSecurityLabelListRet{Labels: make([]DomainGetSecurityLabelRet, len(labels)), Ret: int32(len(labels))}
	for i, l := range labels {
		ret.Labels[i] = wireSecLabel(l).(DomainGetSecurityLabelRet)
	}
	return ret, nil
}
