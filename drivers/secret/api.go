package secret

import (
	"bytes"
	"os"

	"govirt/conf"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

var _ driver.Secrets = (*Manager)(nil)

func match(flags uint32, yes, no uint32, v bool) bool {
	f := flags & (yes | no)
	return f == 0 || (f&yes != 0 && v) || (f&no != 0 && !v)
}

// ListAllSecrets is virConnectListAllSecrets.
func (m *Manager) ListAllSecrets(flags uint32) ([]driver.Secret, error) {
	if err := checkFlags(flags, listAllFlags, "secretConnectListAllSecrets"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []driver.Secret
	for _, o := range m.sorted() {
		if match(flags, ListEphemeral, ListNoEphemeral, o.def.Ephemeral) && match(flags, ListPrivate, ListNoPrivate, o.def.Private) {
			out = append(out, handle(o.def))
		}
	}
	return out, nil
}

// NumOfSecrets is virConnectNumOfSecrets.
func (m *Manager) NumOfSecrets() (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int32(len(m.objs)), nil
}

// ListSecrets is virConnectListSecrets: at most maxuuids UUIDs.
func (m *Manager) ListSecrets(maxuuids int32) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []string{}
	for _, o := range m.sorted() {
		if int32(len(out)) >= maxuuids {
			break
		}
		out = append(out, o.def.UUID.String())
	}
	return out, nil
}

// LookupSecretByUUID is virSecretLookupByUUID.
func (m *Manager) LookupSecretByUUID(u uuid.UUID) (driver.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.find(u)
	if err != nil {
		return driver.Secret{}, err
	}
	return handle(o.def), nil
}

// LookupSecretByUsage is virSecretLookupByUsage.
func (m *Manager) LookupSecretByUsage(usageType int32, usageID string) (driver.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.byUsage(usageType, usageID)
	if o == nil {
		return driver.Secret{}, errSecret(virerr.ErrNoSecret, "no secret with matching usage '%s'", usageID)
	}
	return handle(o.def), nil
}

// SecretDefineXML is virSecretDefineXML: a new secret, or a new
// definition of one (same usage; private stays private). A secret turned
// persistent gets its value written; one turned ephemeral loses its files.
func (m *Manager) SecretDefineXML(xml string, flags uint32) (driver.Secret, error) {
	if err := checkFlags(flags, conf.SecretDefineValidate, "secretDefineXML"); err != nil {
		return driver.Secret{}, err
	}
	def, err := conf.ParseSecret([]byte(xml), flags)
	if err != nil {
		return driver.Secret{}, err
	}
	m.mu.Lock()
	if err := m.conflict(def); err != nil {
		m.mu.Unlock()
		return driver.Secret{}, err
	}
	old := m.objs[def.UUID]
	var value []byte
	if old != nil {
		value = old.value
	}
	switch {
	case !def.Ephemeral:
		if old != nil && old.def.Ephemeral {
			if err := m.saveValue(def.UUID, value); err != nil {
				m.mu.Unlock()
				return driver.Secret{}, err
			}
		}
		if err := m.saveConfig(def); err != nil {
			if old != nil && old.def.Ephemeral {
				_ = os.Remove(m.valuePath(def.UUID))
			}
			m.mu.Unlock()
			return driver.Secret{}, err
		}
	case old != nil && !old.def.Ephemeral:
		if err := os.Remove(m.configPath(def.UUID)); err != nil && !os.IsNotExist(err) {
			m.mu.Unlock()
			return driver.Secret{}, errSecret(virerr.ErrSystemError, "cannot unlink '%s': %v", m.configPath(def.UUID), err)
		}
		_ = os.Remove(m.valuePath(def.UUID))
	}
	m.objs[def.UUID] = &object{def: def, value: value}
	h := handle(def)
	m.mu.Unlock()
	m.publish(driver.SecretEvent{Secret: h, Event: driver.SecretEventDefined})
	return h, nil
}

// SecretGetXMLDesc is virSecretGetXMLDesc.
func (m *Manager) SecretGetXMLDesc(s driver.Secret, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "secretGetXMLDesc"); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.find(s.UUID)
	if err != nil {
		return "", err
	}
	return o.def.Format(), nil
}

// SecretSetValue is virSecretSetValue; the value of a persistent secret
// is on disk before the call returns.
func (m *Manager) SecretSetValue(s driver.Secret, value []byte, flags uint32) error {
	if err := checkFlags(flags, 0, "secretSetValue"); err != nil {
		return err
	}
	m.mu.Lock()
	o, err := m.find(s.UUID)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	if !o.def.Ephemeral {
		if err := m.saveValue(o.def.UUID, v); err != nil {
			m.mu.Unlock()
			return err
		}
	}
	old := o.value
	o.value = v
	clear(old)
	h := handle(o.def)
	m.mu.Unlock()
	m.publish(driver.SecretEvent{Secret: h, ValueChanged: true})
	return nil
}

// SecretGetValue is virSecretGetValue as a client calls it: a private
// secret's value is refused.
func (m *Manager) SecretGetValue(s driver.Secret, flags uint32) ([]byte, error) {
	if err := checkFlags(flags, 0, "secretGetValue"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.find(s.UUID)
	if err != nil {
		return nil, err
	}
	if o.def.Private {
		return nil, errSecret(virerr.ErrInvalidSecret, "secret is private")
	}
	return valueOf(o)
}

func valueOf(o *object) ([]byte, error) {
	if o.value == nil {
		return nil, errSecret(virerr.ErrNoSecret, "secret '%s' does not have a value", o.def.UUID)
	}
	return bytes.Clone(o.value), nil
}

// SecretUndefine is virSecretUndefine: the definition and value go.
func (m *Manager) SecretUndefine(s driver.Secret) error {
	m.mu.Lock()
	o, err := m.find(s.UUID)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if !o.def.Ephemeral {
		p := m.configPath(o.def.UUID)
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			m.mu.Unlock()
			return errSecret(virerr.ErrSystemError, "cannot unlink '%s': %v", p, err)
		}
	}
	_ = os.Remove(m.valuePath(o.def.UUID))
	delete(m.objs, o.def.UUID)
	clear(o.value)
	h := handle(o.def)
	m.mu.Unlock()
	m.publish(driver.SecretEvent{Secret: h, Event: driver.SecretEventUndefined})
	return nil
}

// Value is the value a hypervisor driver hands to its guest or to
// qemu-img (virSecretGetSecretString, the internal call that private
// secrets do not refuse): by UUID when uuidStr is set, else by usage.
// usageType is the type the user needs ("volume" for an <encryption>);
// a secret found by UUID must have it or none.
func (m *Manager) Value(uuidStr, usageType, usageID string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var o *object
	if uuidStr != "" {
		u, err := uuid.Parse(uuidStr)
		if err != nil {
			return nil, errSecret(virerr.ErrNoSecret, "no secret with matching uuid '%s'", uuidStr)
		}
		if o, err = m.find(u); err != nil {
			return nil, err
		}
		want := conf.SecretUsageType(usageType)
		if want > conf.SecretUsageNone && o.def.UsageType != conf.SecretUsageNone && o.def.UsageType != want {
			return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "secret with uuid %s is of type '%s' not expected '%s' type",
				o.def.UUID, conf.SecretUsageNames[o.def.UsageType], usageType)
		}
	} else {
		t := conf.SecretUsageType(usageType)
		if o = m.byUsage(t, usageID); o == nil {
			return nil, errSecret(virerr.ErrNoSecret, "no secret with matching usage '%s'", usageID)
		}
	}
	return valueOf(o)
}
