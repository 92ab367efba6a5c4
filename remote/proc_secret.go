package remote

import (
	"fmt"

	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
)

// Secret procedures go to a connection with a secret store
// (driver.Secrets: the QEMU driver). Connections without one keep the
// answers of proc_lists_legacy.go and proc_network.go (empty lists, no
// secret found, or libvirt's "not supported" on the test driver); this
// file's init runs after theirs (files initialise in name order).
func init() {
	overrideSecrets(procs.ConnectListAllSecrets, listAll(driver.Secrets.ListAllSecrets, wireSecret))
	overrideSecrets(procs.ConnectNumOfSecrets, func(h *handler, _ []byte) (any, error) {
		d, err := need[driver.Secrets](h)
		if err != nil {
			return nil, err
		}
		n, err := d.NumOfSecrets()
		return intRet{n}, err
	})
	overrideSecrets(procs.ConnectListSecrets, func(h *handler, body []byte) (any, error) {
		a, err := args[ConnectListSecretsArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[driver.Secrets](h)
		if err != nil {
			return nil, err
		}
		l, err := d.ListSecrets(a.Maxuuids)
		if err != nil {
			return nil, err
		}
		return ConnectListSecretsRet{Uuids: l}, nil
	})
	overrideSecrets(procs.SecretLookupByUUID, func(h *handler, body []byte) (any, error) {
		a, err := args[SecretLookupByUUIDArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[driver.Secrets](h)
		if err != nil {
			return nil, err
		}
		s, err := d.LookupSecretByUUID(uuid.UUID(a.UUID))
		if err != nil {
			return nil, err
		}
		return SecretLookupByUUIDRet{Secret: wireSecret(s)}, nil
	})
	overrideSecrets(procs.SecretLookupByUsage, func(h *handler, body []byte) (any, error) {
		a, err := args[SecretLookupByUsageArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[driver.Secrets](h)
		if err != nil {
			return nil, err
		}
		s, err := d.LookupSecretByUsage(a.UsageType, a.UsageID)
		if err != nil {
			return nil, err
		}
		return SecretLookupByUsageRet{Secret: wireSecret(s)}, nil
	})
	registerAPI(map[int32]procFunc{
		procs.SecretDefineXML: func(h *handler, body []byte) (any, error) {
			a, err := args[SecretDefineXMLArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.Secrets](h)
			if err != nil {
				return nil, err
			}
			s, err := d.SecretDefineXML(a.XML, a.Flags)
			if err != nil {
				return nil, err
			}
			return SecretDefineXMLRet{Secret: wireSecret(s)}, nil
		},
		procs.SecretGetXMLDesc: func(h *handler, body []byte) (any, error) {
			a, err := args[SecretGetXMLDescArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.Secrets](h)
			if err != nil {
				return nil, err
			}
			x, err := d.SecretGetXMLDesc(drvSecret(a.Secret), a.Flags)
			if err != nil {
				return nil, err
			}
			return SecretGetXMLDescRet{XML: x}, nil
		},
		procs.SecretSetValue: func(h *handler, body []byte) (any, error) {
			a, err := args[SecretSetValueArgs](body)
			if err != nil {
				return nil, err
			}
			defer clear(a.Value)
			d, err := need[driver.Secrets](h)
			if err != nil {
				return nil, err
			}
			return nil, d.SecretSetValue(drvSecret(a.Secret), a.Value, a.Flags)
		},
		procs.SecretGetValue: func(h *handler, body []byte) (any, error) {
			a, err := args[SecretGetValueArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.Secrets](h)
			if err != nil {
				return nil, err
			}
			v, err := d.SecretGetValue(drvSecret(a.Secret), a.Flags)
			if err != nil {
				return nil, err
			}
			return SecretGetValueRet{Value: v}, nil
		},
		procs.SecretUndefine: func(h *handler, body []byte) (any, error) {
			a, err := args[SecretUndefineArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.Secrets](h)
			if err != nil {
				return nil, err
			}
			return nil, d.SecretUndefine(drvSecret(a.Secret))
		},
	})
}

func wireSecret(s driver.Secret) NonnullSecret {
	return NonnullSecret{UUID: s.UUID, UsageType: s.UsageType, UsageID: s.UsageID}
}

func drvSecret(s NonnullSecret) driver.Secret {
	return driver.Secret{UUID: uuid.UUID(s.UUID), UsageType: s.UsageType, UsageID: s.UsageID}
}

// overrideSecrets replaces a registered procedure with one serving
// connections with a secret store, the old answer serving the others.
func overrideSecrets(proc int32, fn procFunc) {
	old, ok := table[proc]
	if !ok {
		panic(fmt.Sprintf("procedure %d not registered before its override", proc))
	}
	table[proc] = procEntry{needOpen: old.needOpen, fn: func(h *handler, body []byte) (any, error) {
		if _, ok := h.conn().(driver.Secrets); ok {
			return fn(h, body)
		}
		return old.fn(h, body)
	}}
}
