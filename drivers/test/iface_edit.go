package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// The changing half of the test driver's interface API: define, undefine,
// start, stop, and the change transaction, whose rollback restores the
// definitions saved at its beginning (all inactive: libvirt rebuilds the
// saved list from the definitions alone).

// ifaceTxn is the state of virInterfaceChangeBegin; guarded by in.mu.
type ifaceTxn struct {
	running bool
	backup  []*conf.HostInterface
}

func (in *instance) InterfaceDefineXML(doc string, flags uint32) (driver.Interface, error) {
	if err := checkFlags(flags, 1, "testInterfaceDefineXML"); err != nil {
		return driver.Interface{}, err
	}
	var pf conf.ParseFlags
	if flags&1 != 0 {
		pf |= conf.ParseValidate
	}
	i, err := parseIfaceFlags(doc, pf)
	if err != nil {
		return driver.Interface{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if old, _ := in.ifaceByName(i.name); old != nil {
		old.def, old.mac = i.def, i.mac
		return old.handle(), nil
	}
	in.ifaces = append(in.ifaces, i)
	return i.handle(), nil
}

func parseIfaceFlags(doc string, pf conf.ParseFlags) (*ifaceObj, error) {
	def, err := conf.ParseHostInterface([]byte(doc), pf)
	if err != nil {
		return nil, err
	}
	return &ifaceObj{name: def.Name, mac: def.MAC, def: def}, nil
}

func (in *instance) InterfaceUndefine(h driver.Interface) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	i, err := in.ifaceByName(h.Name)
	if err != nil {
		return err
	}
	for k, x := range in.ifaces {
		if x == i {
			in.ifaces = append(in.ifaces[:k:k], in.ifaces[k+1:]...)
			break
		}
	}
	return nil
}

func (in *instance) InterfaceCreate(h driver.Interface, flags uint32) error {
	return in.setIfaceActive(h, flags, true, "testInterfaceCreate")
}

func (in *instance) InterfaceDestroy(h driver.Interface, flags uint32) error {
	return in.setIfaceActive(h, flags, false, "testInterfaceDestroy")
}

func (in *instance) setIfaceActive(h driver.Interface, flags uint32, on bool, fn string) error {
	if err := checkFlags(flags, 0, fn); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	i, err := in.ifaceByName(h.Name)
	if err != nil {
		return err
	}
	if i.active == on {
		return errTest(virerr.ErrOperationInvalid, "")
	}
	i.active = on
	return nil
}

func (in *instance) InterfaceChangeBegin(flags uint32) error {
	if err := checkFlags(flags, 0, "testInterfaceChangeBegin"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ifaceTxn.running {
		return errTest(virerr.ErrOperationInvalid, "there is another transaction running.")
	}
	in.ifaceTxn.running = true
	in.ifaceTxn.backup = nil
	for _, i := range in.ifaces {
		in.ifaceTxn.backup = append(in.ifaceTxn.backup, i.def)
	}
	return nil
}

func (in *instance) InterfaceChangeCommit(flags uint32) error {
	if err := checkFlags(flags, 0, "testInterfaceChangeCommit"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.ifaceTxn.running {
		return errTest(virerr.ErrOperationInvalid, "no transaction running, nothing to be committed.")
	}
	in.ifaceTxn = ifaceTxn{}
	return nil
}

func (in *instance) InterfaceChangeRollback(flags uint32) error {
	if err := checkFlags(flags, 0, "testInterfaceChangeRollback"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.ifaceTxn.running {
		return errTest(virerr.ErrOperationInvalid, "no transaction running, nothing to rollback.")
	}
	in.ifaces = nil
	for _, def := range in.ifaceTxn.backup {
		in.ifaces = append(in.ifaces, &ifaceObj{name: def.Name, mac: def.MAC, def: def})
	}
	in.ifaceTxn = ifaceTxn{}
	return nil
}
