package command

// memoryMachineParams are the -machine properties memory devices need
// (nvdimm=on).
func (b *builder) memoryMachineParams() string { return "" }

// numaCells is the number of guest NUMA nodes (<cpu><numa><cell>).
func (b *builder) numaCells() int { return 0 }

// numaHasHMAT reports <cpu><numa> latency/bandwidth information.
func (b *builder) numaHasHMAT() bool { return false }

// launchSecurity reports a <launchSecurity> the guest is started with.
func (b *builder) launchSecurity() bool { return false }

// pflashMachineParams are the pflash0/pflash1 node names of the firmware.
func (b *builder) pflashMachineParams() string { return "" }

// emitNUMA writes the guest NUMA nodes.
func (b *builder) emitNUMA() error { return nil }

// emitSysinfo writes -smbios.
func (b *builder) emitSysinfo() error { return nil }
