package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainGetBlockIOTune: domainGetBlockIOTune,
		procs.DomainSetBlockIOTune: domainSetBlockIOTune,
	})
}

// blockIOTuneParams is how many parameters virDomainGetBlockIoTune has
// (QEMU_NB_BLOCK_IO_TUNE_ALL_PARAMS): what nparams 0 asks for.
const blockIOTuneParams = 20

func domainGetBlockIOTune(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetBlockIOTuneArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockIOTune](h)
	if err != nil {
		return nil, err
	}
	disk := ""
	if a.Disk != nil {
		disk = *a.Disk
	}
	if a.Nparams == 0 {
		// The count only: the driver still checks the guest and flags
		// (an empty disk name asks for nothing more).
		disk = ""
	}
	params, err := d.DomainGetBlockIOTune(drvDom(a.Dom), disk, a.Flags)
	if a.Nparams == 0 && err == nil {
		return DomainGetBlockIOTuneRet{Params: []TypedParam{}, Nparams: blockIOTuneParams}, nil
	}
	if err != nil {
		return nil, err
	}
	wire := paramsToWire(params, a.Flags)
	if int32(len(wire)) > a.Nparams {
		wire = wire[:a.Nparams]
	}
	return DomainGetBlockIOTuneRet{Params: wire, Nparams: int32(len(wire))}, nil
}

func domainSetBlockIOTune(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetBlockIOTuneArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockIOTune](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetBlockIOTune(drvDom(a.Dom), a.Disk, paramsFromWire(a.Params), a.Flags)
}
