package remote

import (
	"fmt"
	"path/filepath"

	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainBlockResize:           domainBlockResize,
		procs.DomainRename:                domainRename,
		procs.DomainCoreDump:              domainCoreDump,
		procs.DomainCoreDumpWithFormat:    domainCoreDumpWithFormat,
		procs.DomainSaveImageGetXMLDesc:   domainSaveImageGetXMLDesc,
		procs.DomainSaveImageDefineXML:    domainSaveImageDefineXML,
		procs.DomainManagedSaveGetXMLDesc: domainManagedSaveGetXMLDesc,
		procs.DomainManagedSaveDefineXML:  domainManagedSaveDefineXML,
		procs.DomainMemoryPeek:            domainMemoryPeek,
		procs.DomainBlockPeek:             domainBlockPeek,
		procs.DomainDetachDeviceAlias:     domainDetachDeviceAlias,
	})
}

// invalidArg is the public API's argument check error (virReportInvalidArg
// and friends), raised by libvirtd's own call of the API.
func invalidArg(format string, a ...any) error {
	return virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, fmt.Sprintf(format, a...))
}

// absPath is g_canonicalize_filename(path, NULL): the public API hands
// drivers absolute, cleaned paths.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

func domainBlockResize(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockResizeArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockResizer](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainBlockResize(drvDom(a.Dom), a.Disk, a.Size, a.Flags)
}

func domainRename(h *handler, body []byte) (any, error) {
	a, err := args[DomainRenameArgs](body)
	if err != nil {
		return nil, err
	}
	// virCheckNonEmptyStringArgGoto.
	if a.NewName == nil {
		return nil, invalidArg("new_name in virDomainRename must not be NULL")
	}
	if *a.NewName == "" {
		return nil, invalidArg("string new_name in virDomainRename must not be empty")
	}
	d, err := need[driver.DomainRenamer](h)
	if err != nil {
		return nil, err
	}
	if err := d.DomainRename(drvDom(a.Dom), *a.NewName, a.Flags); err != nil {
		return nil, err
	}
	return DomainRenameRet{Retcode: 0}, nil
}

// Dump flags the public API checks (virDomainCoreDump).
const (
	dumpCrash = 1 << 0
	dumpLive  = 1 << 1
	dumpReset = 1 << 3
)

// exclusiveFlags is VIR_EXCLUSIVE_FLAGS_GOTO over pairs of flags and
// their names, as the public API checks them before any driver.
func exclusiveFlags(flags uint32, pairs ...flagPair) error {
	for _, p := range pairs {
		if flags&p.a != 0 && flags&p.b != 0 {
			return invalidArg("Flags '%s' and '%s' are mutually exclusive", p.na, p.nb)
		}
	}
	return nil
}

type flagPair = struct {
	a, b   uint32
	na, nb string
}

func checkDumpFlags(flags uint32) error {
	return exclusiveFlags(flags,
		flagPair{dumpCrash, dumpLive, "VIR_DUMP_CRASH", "VIR_DUMP_LIVE"},
		flagPair{dumpCrash, dumpReset, "VIR_DUMP_CRASH", "VIR_DUMP_RESET"},
		flagPair{dumpLive, dumpReset, "VIR_DUMP_LIVE", "VIR_DUMP_RESET"})
}

func domainCoreDump(h *handler, body []byte) (any, error) {
	a, err := args[DomainCoreDumpArgs](body)
	if err != nil {
		return nil, err
	}
	if err := checkDumpFlags(a.Flags); err != nil {
		return nil, err
	}
	d, err := need[driver.DomainCoreDumper](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainCoreDump(drvDom(a.Dom), absPath(a.To), a.Flags)
}

// coreDumpFormatLast is VIR_DOMAIN_CORE_DUMP_FORMAT_LAST.
const coreDumpFormatLast = 5

func domainCoreDumpWithFormat(h *handler, body []byte) (any, error) {
	a, err := args[DomainCoreDumpWithFormatArgs](body)
	if err != nil {
		return nil, err
	}
	if a.Dumpformat >= coreDumpFormatLast {
		return nil, invalidArg("dumpformat '%d' is not supported", a.Dumpformat)
	}
	if err := checkDumpFlags(a.Flags); err != nil {
		return nil, err
	}
	d, err := need[driver.DomainCoreDumper](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainCoreDumpWithFormat(drvDom(a.Dom), absPath(a.To), a.Dumpformat, a.Flags)
}

func domainSaveImageGetXMLDesc(h *handler, body []byte) (any, error) {
	a, err := args[DomainSaveImageGetXMLDescArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainSaveImages](h)
	if err != nil {
		return nil, err
	}
	x, err := d.DomainSaveImageGetXMLDesc(absPath(a.File), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainSaveImageGetXMLDescRet{XML: x}, nil
}

func domainSaveImageDefineXML(h *handler, body []byte) (any, error) {
	a, err := args[DomainSaveImageDefineXMLArgs](body)
	if err != nil {
		return nil, err
	}
	const saveRunning, savePaused = 1 << 1, 1 << 2
	if err := exclusiveFlags(a.Flags, flagPair{saveRunning, savePaused, "VIR_DOMAIN_SAVE_RUNNING", "VIR_DOMAIN_SAVE_PAUSED"}); err != nil {
		return nil, err
	}
	d, err := need[driver.DomainSaveImages](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSaveImageDefineXML(absPath(a.File), a.Dxml, a.Flags)
}

func domainManagedSaveGetXMLDesc(h *handler, body []byte) (any, error) {
	a, err := args[DomainManagedSaveGetXMLDescArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainManagedSaveImages](h)
	if err != nil {
		return nil, err
	}
	x, err := d.DomainManagedSaveGetXMLDesc(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainManagedSaveGetXMLDescRet{XML: x}, nil
}

func domainManagedSaveDefineXML(h *handler, body []byte) (any, error) {
	a, err := args[DomainManagedSaveDefineXMLArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainManagedSaveImages](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainManagedSaveDefineXML(drvDom(a.Dom), optString(a.Dxml), a.Flags)
}

func domainMemoryPeek(h *handler, body []byte) (any, error) {
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
}

func domainBlockPeek(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockPeekArgs](body)
	if err != nil {
		return nil, err
	}
	if a.Path == "" {
		return nil, invalidArg("string disk in virDomainBlockPeek must not be empty")
	}
	d, err := need[driver.DomainBlockPeeker](h)
	if err != nil {
		return nil, err
	}
	buf, err := d.DomainBlockPeek(drvDom(a.Dom), a.Path, a.Offset, a.Size, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainBlockPeekRet{Buffer: buf}, nil
}

func domainDetachDeviceAlias(h *handler, body []byte) (any, error) {
	a, err := args[DomainDetachDeviceAliasArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainAliasDetacher](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainDetachDeviceAlias(drvDom(a.Dom), a.Alias, a.Flags)
}
