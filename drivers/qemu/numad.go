package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// Automatic NUMA placement, as libvirt's
// qemuProcessPrepareDomainNUMAPlacement: <vcpu placement='auto'> or
// <numatune><memory placement='auto'> asks numad (numad -w VCPUS:MiB)
// for host nodes; the guest's threads may then run on every CPU of those
// nodes (autoCpuset) and its memory comes from those of them that have
// memory (autoNodeset). Nothing of it is written into the XML: the live
// definition keeps placement='auto', and the getters (vcpupin,
// emulatorpin, numatune) show the advised sets.

// numadDefaultPath is where Debian's libvirt runs numad from.
const numadDefaultPath = "/usr/bin/numad"

// numadPath is the numad to run: GOVIRT_NUMAD when set (tests give a fake
// numad script this way), else Debian's.
func numadPath() string {
	if p := os.Getenv("GOVIRT_NUMAD"); p != "" {
		return p
	}
	return numadDefaultPath
}

// autoPlacement is a running guest's numad advice (libvirt's
// priv->autoCpuset and priv->autoNodeset).
type autoPlacement struct {
	cpus  []int
	nodes []int
}

// needsPlacementAdvice is virDomainDefNeedsPlacementAdvice.
func needsPlacementAdvice(def *conf.Domain) bool {
	if def.VCPUPlacement == "auto" {
		return true
	}
	p, ok := def.Value("numatune/memory/@placement")
	return ok && p == "auto"
}

func errNumadQuery() error {
	return virerr.New(virerr.FromNone, virerr.ErrOperationFailed, "Failed to query numad for the advisory nodeset")
}

// prepareNUMAPlacement asks numad for a guest about to start; nil when
// the definition places nothing automatically.
func prepareNUMAPlacement(def *conf.Domain) (*autoPlacement, error) {
	if !needsPlacementAdvice(def) {
		return nil, nil
	}
	vcpus := def.CurrentVCPUs
	if vcpus == 0 {
		vcpus = def.VCPUs
	}
	// VIR_DIV_UP(total memory KiB, 1024): MiB rounded up.
	cmd := exec.Command(numadPath(), "-w", fmt.Sprintf("%d:%d", vcpus, (def.Memory+1023)/1024))
	out, err := cmd.Output()
	if err != nil {
		return nil, errNumadQuery()
	}
	advice := string(out)
	nodes, err := conf.ParseBitmap(advice)
	if err != nil || strings.TrimSpace(advice) == "" {
		return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "Failed to parse bitmap '%s'", advice)
	}
	return placementFromNodes(nodes, hostCells(hostPageSizes()))
}

// placementFromNodes is the rest of qemuProcessPrepareDomainNUMAPlacement:
// every CPU of the advised nodes (virCapabilitiesHostNUMAGetCpus, which
// passes over a node the host lacks), and the advised nodes that have
// memory (virNumaGetHostMemoryNodeset). A host without NUMA sysfs is one
// node 0 with every CPU and all the memory.
func placementFromNodes(nodes []int, cells []conf.CapsCell) (*autoPlacement, error) {
	if len(cells) == 0 {
		cells = []conf.CapsCell{{ID: 0, MemoryKiB: 1}}
		for _, c := range hostCPUs() {
			cells[0].CPUs = append(cells[0].CPUs, conf.CapsCPU{ID: c})
		}
	}
	p := &autoPlacement{cpus: []int{}, nodes: []int{}}
	seen := map[int]bool{}
	for _, n := range nodes {
		var cell *conf.CapsCell
		for i := range cells {
			if cells[i].ID == n {
				cell = &cells[i]
			}
		}
		if cell == nil {
			continue
		}
		for _, c := range cell.CPUs {
			if !seen[c.ID] {
				seen[c.ID] = true
				p.cpus = append(p.cpus, c.ID)
			}
		}
		if cell.MemoryKiB > 0 {
			p.nodes = append(p.nodes, n)
		}
	}
	sort.Ints(p.cpus)
	return p, nil
}

// applyAutoPinning gives every thread without a pin of its own the
// advised CPUs, as qemuProcessSetupPid's use of autoCpuset for a vcpu
// placement='auto' guest.
func applyAutoPinning(def *conf.Domain, ap *autoPlacement, p *command.Pinning) *command.Pinning {
	if ap == nil || def.VCPUPlacement != "auto" {
		return p
	}
	if p == nil {
		p = &command.Pinning{}
	}
	if p.Default == nil && len(ap.cpus) > 0 {
		p.Default = ap.cpus
	}
	return p
}

func vmAutoPlacement(v *vm) *autoPlacement {
	v.ext.autoMu.Lock()
	defer v.ext.autoMu.Unlock()
	return v.ext.auto
}

func setVMAutoPlacement(v *vm, ap *autoPlacement) {
	v.ext.autoMu.Lock()
	v.ext.auto = ap
	v.ext.autoMu.Unlock()
}

// liveAuto is a running guest's numad advice (nil when none).
func (c *conn) liveAuto(h driver.Domain) *autoPlacement {
	var ap *autoPlacement
	c.withVM(h, func(v *vm) error {
		if v.active() {
			ap = vmAutoPlacement(v)
		}
		return nil
	})
	return ap
}

// liveAutoCPUs is liveAuto's CPUs for a live definition (libvirt's
// getters use autoCpuset only then).
func (c *conn) liveAutoCPUs(h driver.Domain, isLive bool) []int {
	if !isLive {
		return nil
	}
	if ap := c.liveAuto(h); ap != nil {
		return ap.cpus
	}
	return nil
}

func numadForStatus(ap *autoPlacement) *statusNumad {
	if ap == nil {
		return nil
	}
	return &statusNumad{Nodeset: conf.FormatBitmap(ap.nodes), Cpuset: conf.FormatBitmap(ap.cpus)}
}

// numadFromStatus is a reconnected guest's advice; a set that does not
// parse is left empty, as the daemon that wrote it formatted it.
func numadFromStatus(sn *statusNumad) *autoPlacement {
	if sn == nil {
		return nil
	}
	ap := &autoPlacement{cpus: []int{}, nodes: []int{}}
	if sn.Nodeset != "" {
		ap.nodes, _ = conf.ParseBitmap(sn.Nodeset)
	}
	if sn.Cpuset != "" {
		ap.cpus, _ = conf.ParseBitmap(sn.Cpuset)
	}
	return ap
}
