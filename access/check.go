package access

import (
	"fmt"
	"os"
	"strings"

	"govirt/rpc"
	"govirt/virerr"
)

// Object is what a permission is checked on, with the attributes libvirt's
// polkit driver hands to its rules (connect_driver, domain_name,
// domain_uuid, pool_name, vol_name, ...).
type Object struct {
	Kind   string
	Driver string // the connection's driver name: "QEMU", "Test"
	Name   string
	UUID   string
	Parent string // a volume's pool, a network port's network
}

// Manager decides checks. A nil Manager allows everything, as libvirt's
// "none" access driver (libvirtd's default).
type Manager struct {
	rules *Rules
}

// New returns a manager for the configured drivers: nil for none (or
// ["none"]), the rules driver with its file for ["rules"]. libvirt's
// polkit driver is refused: govirt has no polkit.
func New(drivers []string, rulesFile string) (*Manager, error) {
	switch {
	case len(drivers) == 0 || (len(drivers) == 1 && drivers[0] == "none"):
		if rulesFile != "" {
			return nil, fmt.Errorf("access_rules needs access_drivers = [ \"rules\" ]")
		}
		return nil, nil
	case len(drivers) == 1 && drivers[0] == "rules":
	default:
		for _, d := range drivers {
			if d == "polkit" {
				return nil, fmt.Errorf("access driver \"polkit\" is not supported: govirt has no polkit; use \"rules\"")
			}
		}
		return nil, fmt.Errorf("access_drivers: expected [ \"none\" ] or [ \"rules\" ], not %q", strings.Join(drivers, ","))
	}
	if rulesFile == "" {
		return nil, fmt.Errorf("access_drivers = [ \"rules\" ] needs access_rules = \"/path/to/rules\"")
	}
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		return nil, fmt.Errorf("access_rules: %v", err)
	}
	rs, err := ParseRules(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", rulesFile, err)
	}
	return &Manager{rules: rs}, nil
}

// NewWithRules is a manager over rules already parsed (tests).
func NewWithRules(rs *Rules) *Manager { return &Manager{rules: rs} }

// Enabled reports whether checks can deny anything.
func (m *Manager) Enabled() bool { return m != nil }

// Allowed reports whether the client may use perm on obj: the first rule
// that matches decides, none matching denies.
func (m *Manager) Allowed(id *rpc.Identity, obj Object, perm string) bool {
	if m == nil {
		return true
	}
	for i := range m.rules.list {
		r := &m.rules.list[i]
		if r.matches(id, &obj, perm) {
			return r.Allow
		}
	}
	return false
}

// Ensure is libvirt's generated virXXXEnsureACL: nil when allowed,
// otherwise libvirt's error, which says only which driver denied (the
// reason is not told to the client).
func (m *Manager) Ensure(id *rpc.Identity, obj Object, perm string) error {
	if m.Allowed(id, obj, perm) {
		return nil
	}
	return Denied(obj.Driver)
}

// Denied is the error of a refused check: "access denied: 'QEMU' denied
// access", VIR_ERR_ACCESS_DENIED from VIR_FROM_ACCESS.
func Denied(driver string) error {
	return virerr.New(virerr.FromAccess, virerr.ErrAccessDenied, "'%s' denied access", driver)
}
