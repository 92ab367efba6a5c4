package test

import (
	"fmt"
	"os"
	"strings"

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

// buildCapabilities writes testBuildCapabilities' document for the
// instance's cells: the second cell uses 8 KiB base pages, the others 4.
func buildCapabilities(cells []cell) string {
	var b strings.Builder
	b.WriteString("<capabilities>\n\n  <host>\n    <cpu>\n      <arch>i686</arch>\n" +
		"      <features>\n        <pae/>\n        <nonpae/>\n      </features>\n")
	for _, p := range []int{4, 8, 2048, 1048576} {
		fmt.Fprintf(&b, "      <pages unit='KiB' size='%d'/>\n", p)
	}
	b.WriteString("    </cpu>\n    <power_management/>\n    <iommu support='no'/>\n")
	// A node-file instance has no cells but still writes the element.
	fmt.Fprintf(&b, "    <topology>\n      <cells num='%d'>\n", len(cells))
	cpu := 0
	for i, c := range cells {
		base := uint64(4)
		if i == 1 {
			base = 8
		}
		fmt.Fprintf(&b, "        <cell id='%d'>\n          <memory unit='KiB'>%d</memory>\n", i, c.mem)
		fmt.Fprintf(&b, "          <pages unit='KiB' size='%d'>%d</pages>\n", base, c.mem/base)
		b.WriteString("          <pages unit='KiB' size='2048'>0</pages>\n          <pages unit='KiB' size='1048576'>0</pages>\n")
		fmt.Fprintf(&b, "          <cpus num='%d'>\n", c.cpus)
		for j := 0; j < c.cpus; j++ {
			fmt.Fprintf(&b, "            <cpu id='%d' socket_id='%d' die_id='0' core_id='%d' siblings='%d'/>\n", cpu, i, j, cpu)
			cpu++
		}
		b.WriteString("          </cpus>\n        </cell>\n")
	}
	b.WriteString("      </cells>\n    </topology>\n")
	b.WriteString("    <secmodel>\n      <model>testSecurity</model>\n      <doi></doi>\n    </secmodel>\n  </host>\n\n")
	for _, os := range []string{"hvm", "xen"} {
		fmt.Fprintf(&b, "  <guest>\n    <os_type>%s</os_type>\n    <arch name='i686'>\n      <wordsize>32</wordsize>\n"+
			"      <emulator>/usr/bin/test-hv</emulator>\n      <domain type='test'/>\n    </arch>\n"+
			"    <features>\n      <pae/>\n      <nonpae/>\n    </features>\n  </guest>\n\n", os)
	}
	b.WriteString("</capabilities>\n")
	return b.String()
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
