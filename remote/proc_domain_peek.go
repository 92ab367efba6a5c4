package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	registerAPI(map[int32]procFunc{
		procs.DomainMemoryPeek: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainMemoryPeekArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainMemoryPeeker](h)
			if err != nil {
				return nil, err
			}
			buf, err := d.DomainMemoryPeek(drvDom(a.Dom), a.Offset, a.Size, a.Flags)
			if err != nil {
				return nil, err
			}
			return DomainMemoryPeekRet{Buffer: buf}, nil
		},
		procs.DomainRename: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainRenameArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainRenamer](h)
			if err != nil {
				return nil, err
			}
			name := ""
			if a.NewName != nil {
				name = *a.NewName
			}
			if err := d.DomainRename(drvDom(a.Dom), name, a.Flags); err != nil {
				return nil, err
			}
			return DomainRenameRet{Retcode: 0}, nil
		},
	})
}
