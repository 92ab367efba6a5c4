package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainGetMetadata: domainGetMetadata,
		procs.DomainSetMetadata: domainSetMetadata,
	})
}

func domainGetMetadata(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetMetadataArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMetadata](h)
	if err != nil {
		return nil, err
	}
	s, err := d.DomainGetMetadata(drvDom(a.Dom), a.Type, optString(a.URI), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainGetMetadataRet{Metadata: s}, nil
}

func domainSetMetadata(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetMetadataArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainMetadata](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetMetadata(drvDom(a.Dom), a.Type, a.Metadata, optString(a.Key), optString(a.URI), a.Flags)
}
