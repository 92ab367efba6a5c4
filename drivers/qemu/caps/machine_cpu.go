package caps

import "strings"

// MachineDefaultCPU is the CPU model QEMU uses for machine (canonical
// name or alias) under virtType when none is given, by libvirt's name
// ("qemu64"), as virQEMUCapsGetMachineDefaultCPU reports it; "" when
// the machine reports none.
func (c *Caps) MachineDefaultCPU(virtType, machine string) string {
	m, ok := c.Machine(virtType, machine)
	if !ok || m.DefaultCPU == "" {
		return ""
	}
	for _, cm := range c.CPUModelsFor(virtType) {
		if cm.TypeName == m.DefaultCPU {
			return cm.Name
		}
	}
	return strings.TrimSuffix(m.DefaultCPU, "-x86_64-cpu")
}
