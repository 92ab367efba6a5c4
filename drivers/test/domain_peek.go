package test

import (
	"govirt/driver"
	"govirt/virerr"
)

// Memory peek flags.
const (
	memoryVirtual  = 1 << 0
	memoryPhysical = 1 << 1
)

// DomainMemoryPeek reads the fake guest's memory, whose byte at offset N
// is N mod 256, as libvirt's test driver.
func (in *instance) DomainMemoryPeek(d driver.Domain, offset uint64, size uint32, flags uint32) ([]byte, error) {
	if err := checkFlags(flags, memoryVirtual|memoryPhysical, "testDomainMemoryPeek"); err != nil {
		return nil, err
	}
	if flags != memoryVirtual && flags != memoryPhysical {
		return nil, errTest(virerr.ErrInvalidArg, "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL")
	}
	var buf []byte
	err := in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		buf = make([]byte, size)
		b := byte(offset)
		for i := range buf {
			buf[i] = b
			b++
		}
		return nil
	})
	return buf, err
}
