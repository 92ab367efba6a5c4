package test

import (
	"govirt/drivers/internal/cpuapi"
	"govirt/virerr"
)

// GetCPUModelNames lists libvirt's CPU models of arch, as the test driver
// does through the common CPU driver.
func (in *instance) GetCPUModelNames(arch string, flags uint32) ([]string, error) {
	return cpuapi.ModelNames(virerr.FromTest, "testConnectGetCPUModelNames", arch, flags)
}

// BaselineCPU computes the baseline of host CPUs (testConnectBaselineCPU:
// expand-features only, no migratable flag, no QEMU feature filter).
func (in *instance) BaselineCPU(xmls []string, flags uint32) (string, error) {
	return cpuapi.Baseline(virerr.FromTest, "testConnectBaselineCPU", xmls, flags, false)
}
