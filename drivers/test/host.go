package test

import (
	"os"
	"strconv"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// defaultNodeInfo is the test driver's fake host.
var defaultNodeInfo = driver.NodeInfo{
	Model: "i686", Memory: 3 * 1024 * 1024, CPUs: 16, MHz: 1400,
	Nodes: 2, Sockets: 2, Cores: 2, Threads: 2,
}

const sysinfoXML = `<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>LENOVO</entry>
    <entry name='version'>G4ETA1WW (2.61 )</entry>
    <entry name='date'>05/07/2014</entry>
    <entry name='release'>2.61</entry>
  </bios>
</sysinfo>
`

// buildCapabilities is testBuildCapabilities for the instance's cells:
// the second cell uses 8 KiB base pages, the others 4. A node-file
// instance (cells nil) still has an empty topology.
func buildCapabilities(cells []cell) string {
	caps := conf.Capabilities{Host: conf.CapsHost{
		CPU: conf.CapsHostCPU{Arch: "i686", FeatureFlags: []string{"pae", "nonpae"},
			Pages: []uint64{4, 8, 2048, 1048576}},
		Cells:     []conf.CapsCell{},
		SecModels: []conf.CapsSecModel{{Model: "testSecurity"}},
	}}
	cpu := 0
	for i, c := range cells {
		base := uint64(4)
		if i == 1 {
			base = 8
		}
		cc := conf.CapsCell{ID: i, MemoryKiB: c.mem, Pages: []conf.CapsPages{
			{SizeKiB: base, Avail: c.mem / base}, {SizeKiB: 2048}, {SizeKiB: 1048576}}}
		for j := 0; j < c.cpus; j++ {
			cc.CPUs = append(cc.CPUs, conf.CapsCPU{ID: cpu, SocketID: i, CoreID: j, Siblings: strconv.Itoa(cpu)})
			cpu++
		}
		caps.Host.Cells = append(caps.Host.Cells, cc)
	}
	for _, os := range []string{"hvm", "xen"} {
		caps.Guests = append(caps.Guests, conf.CapsGuest{OSType: os, Arch: "i686", WordSize: 32,
			Emulator: "/usr/bin/test-hv", Domains: []string{"test"},
			Features: []conf.CapsFeature{{Name: "pae"}, {Name: "nonpae"}}})
	}
	out, _ := caps.Format()
	return string(out)
}

func (in *instance) Capabilities() (string, error) { return in.capsXML, nil }

func (in *instance) NodeInfo() (driver.NodeInfo, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.node, nil
}

// Hostname is the real host's name, as libvirt's test driver answers.
func (in *instance) Hostname() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", virerr.New(virerr.FromNone, virerr.ErrSystemError, "failed to determine host name")
	}
	return h, nil
}

func (in *instance) Sysinfo(flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testConnectGetSysinfo"); err != nil {
		return "", err
	}
	return sysinfoXML, nil
}

func (in *instance) MaxVcpus(typ string) (int32, error) { return maxVcpus, nil }

// NodeFreeMemory sums the cells' free memory; like the test driver the KiB
// figures are reported as they are, which virsh prints as bytes/1024.
func (in *instance) NodeFreeMemory() (uint64, error) {
	var sum uint64
	for _, c := range in.cells {
		sum += c.freeMem
	}
	return sum, nil
}

// NodeCellsFreeMemory reports each cell's total memory, as the test
// driver does.
func (in *instance) NodeCellsFreeMemory(start, maxCells int32) ([]uint64, error) {
	if int(start) >= len(in.cells) || start < 0 {
		return nil, errTest(virerr.ErrInvalidArg, "Range exceeds available cells")
	}
	var out []uint64
	for c := int(start); c < len(in.cells) && len(out) < int(maxCells); c++ {
		out = append(out, in.cells[c].mem)
	}
	return out, nil
}

// NodeCPUMap is a constant: 8 CPUs of which 0, 2 and 4 are online.
func (in *instance) NodeCPUMap(flags uint32) ([]byte, uint32, int32, error) {
	if err := checkFlags(flags, 0, "testNodeGetCPUMap"); err != nil {
		return nil, 0, 0, err
	}
	return []byte{0x15}, 3, 8, nil
}

func (in *instance) DomainCapabilities(emulator, arch, machine, virtType string, flags uint32) (string, error) {
	return "", errNoSupport(virerr.FromDomain, "virConnectGetDomainCapabilities")
}
