package nwfilter

import (
	"fmt"
	"strings"

	"govirt/atomicfile"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

var _ driver.NWFilters = (*Manager)(nil)

func checkFlags(flags, allowed uint32, fn string) error {
	if flags&^allowed != 0 {
		return virerr.Raw(from, virerr.ErrInvalidArg, fmt.Sprintf("unsupported flags (0x%x) in function %s", flags&^allowed, fn))
	}
	return nil
}

func handle(f *Filter) driver.NWFilter { return driver.NWFilter{Name: f.Name, UUID: f.UUID} }

func bindingHandle(b *Binding) driver.NWFilterBinding {
	return driver.NWFilterBinding{PortDev: b.PortDev, Filter: b.Filter}
}

func (m *Manager) find(u uuid.UUID) (*Filter, error) {
	if f := m.filters[u]; f != nil {
		return f, nil
	}
	return nil, errf(virerr.ErrNoNwfilter, "no nwfilter with matching uuid '%s'", u)
}

// ListAllNWFilters is virConnectListAllNWFilters (no flags exist).
func (m *Manager) ListAllNWFilters(flags uint32) ([]driver.NWFilter, error) {
	if err := checkFlags(flags, 0, "nwfilterConnectListAllNWFilters"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []driver.NWFilter{}
	for _, f := range m.sortedFilters() {
		out = append(out, handle(f))
	}
	return out, nil
}

// NumOfNWFilters is virConnectNumOfNWFilters.
func (m *Manager) NumOfNWFilters() (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int32(len(m.filters)), nil
}

// ListNWFilters is virConnectListNWFilters.
func (m *Manager) ListNWFilters(maxnames int32) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []string{}
	for _, f := range m.sortedFilters() {
		if int32(len(out)) >= maxnames {
			break
		}
		out = append(out, f.Name)
	}
	return out, nil
}

// LookupNWFilterByName is virNWFilterLookupByName.
func (m *Manager) LookupNWFilterByName(name string) (driver.NWFilter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.byName(name); f != nil {
		return handle(f), nil
	}
	return driver.NWFilter{}, errf(virerr.ErrNoNwfilter, "no nwfilter with matching name '%s'", name)
}

// LookupNWFilterByUUID is virNWFilterLookupByUUID.
func (m *Manager) LookupNWFilterByUUID(u uuid.UUID) (driver.NWFilter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.find(u)
	if err != nil {
		return driver.NWFilter{}, err
	}
	return handle(f), nil
}

// NWFilterGetXMLDesc is virNWFilterGetXMLDesc.
func (m *Manager) NWFilterGetXMLDesc(h driver.NWFilter, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "nwfilterGetXMLDesc"); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.find(h.UUID)
	if err != nil {
		return "", err
	}
	return f.Format(), nil
}

// loops is virNWFilterObjListDefLoopDetect: does def reach itself
// through the defined filters?
func (m *Manager) loops(def *Filter, at *Filter, depth int) bool {
	if depth > 256 {
		return true
	}
	for _, e := range at.Entries {
		if e.Ref == nil {
			continue
		}
		if e.Ref.Filter == def.Name {
			return true
		}
		if next := m.byName(e.Ref.Filter); next != nil && next.Name != def.Name && m.loops(def, next, depth+1) {
			return true
		}
	}
	return false
}

// assign is virNWFilterObjListAssignDef (mu held): a new filter, or a
// new definition of one, re-applied to the bindings using it.
func (m *Manager) assign(def *Filter) error {
	if old := m.filters[def.UUID]; old != nil {
		if old.Name != def.Name {
			return errf(virerr.ErrOperationFailed, "filter with same UUID but different name ('%s') already exists", old.Name)
		}
	} else if old := m.byName(def.Name); old != nil {
		return errf(virerr.ErrOperationFailed, "filter '%s' already exists with uuid %s", def.Name, old.UUID)
	}
	if m.loops(def, def, 0) {
		return errf(virerr.ErrOperationFailed, "filter would introduce a loop")
	}
	old := m.filters[def.UUID]
	m.filters[def.UUID] = def
	if old == nil || old.Format() == def.Format() {
		return nil
	}
	// virNWFilterTriggerRebuild: every binding using the filter gets
	// the new rules; a failure keeps the old definition.
	for _, b := range m.sortedBindings() {
		if f := m.byName(b.Filter); f == nil || !m.uses(f, def.Name, 0) {
			continue
		}
		if err := m.instantiate(b, nil); err != nil {
			m.filters[def.UUID] = old
			for _, b2 := range m.sortedBindings() {
				_ = m.instantiate(b2, nil)
			}
			return err
		}
	}
	return nil
}

// NWFilterDefineXML is virNWFilterDefineXMLFlags.
func (m *Manager) NWFilterDefineXML(xml string, flags uint32) (driver.NWFilter, error) {
	if err := checkFlags(flags, DefineValidate, "nwfilterDefineXMLFlags"); err != nil {
		return driver.NWFilter{}, err
	}
	if !m.cfg.Privileged {
		return driver.NWFilter{}, errf(virerr.ErrOperationInvalid, "Can't define NWFilters in session mode")
	}
	def, err := ParseFilter([]byte(xml), flags)
	if err != nil {
		return driver.NWFilter{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.filters[def.UUID]
	if err := m.assign(def); err != nil {
		return driver.NWFilter{}, err
	}
	if err := m.save(def); err != nil {
		if old != nil {
			m.filters[def.UUID] = old
		} else {
			delete(m.filters, def.UUID)
		}
		return driver.NWFilter{}, errf(virerr.ErrInternalError, "cannot save config for %s: %v", def.Name, err)
	}
	return handle(def), nil
}

// NWFilterUndefine is virNWFilterUndefine: refused while a binding on an
// existing port uses the filter.
func (m *Manager) NWFilterUndefine(h driver.NWFilter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.find(h.UUID)
	if err != nil {
		return err
	}
	for _, b := range m.sortedBindings() {
		if !m.cfg.PortExists(b.PortDev) {
			continue
		}
		if bf := m.byName(b.Filter); bf != nil && m.uses(bf, f.Name, 0) {
			return errf(virerr.ErrOperationInvalid, "nwfilter is in use")
		}
	}
	if err := atomicfile.Remove(m.configPath(f.UUID)); err != nil {
		return errf(virerr.ErrInternalError, "cannot remove config for %s", f.Name)
	}
	delete(m.filters, f.UUID)
	return nil
}

// ListAllNWFilterBindings is virConnectListAllNWFilterBindings.
func (m *Manager) ListAllNWFilterBindings(flags uint32) ([]driver.NWFilterBinding, error) {
	if err := checkFlags(flags, 0, "nwfilterConnectListAllNWFilterBindings"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []driver.NWFilterBinding{}
	for _, b := range m.sortedBindings() {
		out = append(out, bindingHandle(b))
	}
	return out, nil
}

func errNoBinding(dev string) error {
	return errf(virerr.ErrNoNwfilterBinding, "no nwfilter binding for port dev '%s'", dev)
}

// LookupNWFilterBindingByPortDev is virNWFilterBindingLookupByPortDev.
func (m *Manager) LookupNWFilterBindingByPortDev(dev string) (driver.NWFilterBinding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.bindings[dev]; b != nil {
		return bindingHandle(b), nil
	}
	return driver.NWFilterBinding{}, errNoBinding(dev)
}

// NWFilterBindingGetXMLDesc is virNWFilterBindingGetXMLDesc.
func (m *Manager) NWFilterBindingGetXMLDesc(h driver.NWFilterBinding, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "nwfilterBindingGetXMLDesc"); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.bindings[h.PortDev]
	if b == nil {
		return "", errNoBinding(h.PortDev)
	}
	return b.Format(), nil
}

// NWFilterBindingCreateXML is virNWFilterBindingCreateXML: the filter is
// instantiated on the port at once (when the port exists) and the
// binding kept for a daemon restart.
func (m *Manager) NWFilterBindingCreateXML(xml string, flags uint32) (driver.NWFilterBinding, error) {
	if err := checkFlags(flags, BindingCreateValidate, "nwfilterBindingCreateXML"); err != nil {
		return driver.NWFilterBinding{}, err
	}
	if !m.cfg.Privileged {
		return driver.NWFilterBinding{}, errf(virerr.ErrOperationInvalid, "Can't define NWFilter bindings in session mode")
	}
	b, err := ParseBinding([]byte(xml), flags)
	if err != nil {
		return driver.NWFilterBinding{}, err
	}
	return m.CreateBinding(b)
}

// CreateBinding adds and instantiates a parsed binding (the QEMU
// driver's path, as virDomainConfNWFilterInstantiate).
func (m *Manager) CreateBinding(b *Binding) (driver.NWFilterBinding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bindings[b.PortDev] != nil {
		return driver.NWFilterBinding{}, errf(virerr.ErrOperationFailed, "binding '%s' already exists", b.PortDev)
	}
	m.bindings[b.PortDev] = b
	if err := m.instantiate(b, nil); err != nil {
		delete(m.bindings, b.PortDev)
		if m.cfg.Tech != nil && m.cfg.PortExists(b.PortDev) {
			_ = m.cfg.Tech.Teardown(b.PortDev)
		}
		return driver.NWFilterBinding{}, err
	}
	if err := m.saveBinding(b); err != nil {
		m.log.Error("cannot save the network filter binding", "portdev", b.PortDev, "err", err)
	}
	return bindingHandle(b), nil
}

// NWFilterBindingDelete is virNWFilterBindingDelete: the port's rules go.
func (m *Manager) NWFilterBindingDelete(h driver.NWFilterBinding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.bindings[h.PortDev]
	if b == nil {
		return errNoBinding(h.PortDev)
	}
	m.stopLearning(b.PortDev)
	// libvirt tears the port's chains down whether or not the tap is
	// still there (it is gone once QEMU exited).
	if m.cfg.Tech != nil {
		if err := m.cfg.Tech.Teardown(b.PortDev); err != nil {
			m.log.Warn("cannot remove the network filter rules", "portdev", b.PortDev, "err", err)
		}
	}
	if err := atomicfile.Remove(m.bindingPath(b.PortDev)); err != nil {
		m.log.Warn("cannot remove the network filter binding file", "portdev", b.PortDev, "err", err)
	}
	delete(m.bindings, b.PortDev)
	return nil
}

var _ driver.NWFilterPorts = (*Manager)(nil)

// BindPort creates the binding of a guest interface (the QEMU driver's
// virDomainConfNWFilterInstantiate); with ignoreExists an existing
// binding of the port is kept.
func (m *Manager) BindPort(p driver.NWFilterPort, ignoreExists bool) error {
	if ignoreExists {
		m.mu.Lock()
		_, ok := m.bindings[p.PortDev]
		m.mu.Unlock()
		if ok {
			return nil
		}
	}
	mac, ok := parseMAC(p.MAC)
	if !ok {
		return errf(virerr.ErrInternalError, "Unable to parse MAC '%s'", p.MAC)
	}
	b := &Binding{OwnerName: p.OwnerName, OwnerUUID: p.OwnerUUID, PortDev: p.PortDev, LinkDev: p.LinkDev,
		MAC: mac, Filter: p.Filter, Params: Params{}}
	for _, kv := range p.Params {
		n, v := kv[0], kv[1]
		if n == "" || strings.Trim(n, validVarName) != "" || v == "" || strings.Trim(v, validVarValue) != "" {
			continue
		}
		b.Params[n] = append(b.Params[n], v)
	}
	_, err := m.CreateBinding(b)
	return err
}

// UnbindPort deletes the port's binding, if any, and its rules.
func (m *Manager) UnbindPort(portdev string) {
	_ = m.NWFilterBindingDelete(driver.NWFilterBinding{PortDev: portdev})
}
