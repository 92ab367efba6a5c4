package qemu

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/internal/sysinfo"
	"govirt/virerr"
)

// Version is the default emulator's QEMU version.
func (c *conn) Version() (uint64, error) {
	qc, err := c.d.caps.get(context.Background(), c.d.cfg.Emulator)
	if err != nil {
		return 0, err
	}
	return qc.Version, nil
}

func (c *conn) Capabilities() (string, error) {
	qc, err := c.d.caps.get(context.Background(), c.d.cfg.Emulator)
	if err != nil {
		return "", err
	}
	ni := nodeInfo()
	caps := conf.Capabilities{Host: conf.CapsHost{
		CPU:           conf.CapsHostCPU{Arch: hostArch(), Sockets: uint(ni.Sockets), Cores: uint(ni.Cores), Threads: uint(ni.Threads)},
		MigrationLive: true, URITransports: []string{"tcp", "rdma"},
		SecModels: c.d.hostSecModels(),
	}}
	caps.Host.UUID = c.d.hostUUID()
	fillHostCPUModel(&caps.Host.CPU)
	fillHostCPUExtras(&caps.Host.CPU)
	caps.Host.Caches = hostCacheBanks("/sys/devices/system")
	caps.Host.CPU.Pages = hostPageSizes()
	caps.Host.Cells = hostCells(caps.Host.CPU.Pages)
	g := qc.GuestCapabilities()
	g.Emulator = c.d.cfg.Emulator
	caps.Guests = []conf.CapsGuest{g}
	out, err := caps.Format()
	return string(out), err
}

func (c *conn) NodeInfo() (driver.NodeInfo, error) { return nodeInfo(), nil }

func hostArch() string {
	if runtime.GOARCH == "amd64" {
		return "x86_64"
	}
	return runtime.GOARCH
}

// nodeInfo reads the host's CPUs and memory from /proc.
func nodeInfo() driver.NodeInfo {
	ni := driver.NodeInfo{Model: hostArch(), CPUs: int32(runtime.NumCPU()), Nodes: 1, Sockets: 1, Threads: 1}
	ni.Cores = ni.CPUs
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, val, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "cpu MHz" {
				mhz, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
				ni.MHz = int32(mhz)
				break
			}
		}
		f.Close()
	}
	ni.Memory = meminfo("MemTotal")
	return ni
}

// meminfo returns a /proc/meminfo value in KiB.
func meminfo(key string) uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, val, ok := strings.Cut(sc.Text(), ":")
		if ok && k == key {
			n, _ := strconv.ParseUint(strings.Fields(val)[0], 10, 64)
			return n
		}
	}
	return 0
}

func (c *conn) Hostname() (string, error) { return os.Hostname() }

// Sysinfo is qemuConnectGetSysinfo: the host's SMBIOS tables
// (/sys/firmware/dmi/tables) as libvirt reports them through dmidecode,
// or libvirt's error on a host without them.
func (c *conn) Sysinfo(flags uint32) (string, error) {
	if flags != 0 {
		return "", errFlagsFn(flags, "qemuConnectGetSysinfo")
	}
	xml, err := sysinfo.Host()
	if err != nil {
		return "", virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, "%s", "Host SMBIOS information is not available")
	}
	return xml, nil
}

func (c *conn) MaxVcpus(string) (int32, error) { return 255, nil }

func (c *conn) NodeFreeMemory() (uint64, error) { return meminfo("MemFree") * 1024, nil }

func (c *conn) NodeCellsFreeMemory(start, max int32) ([]uint64, error) {
	if start != 0 || max < 1 {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "start cell %d out of range (0-0)", start)
	}
	return []uint64{meminfo("MemFree") * 1024}, nil
}

func (c *conn) NodeCPUMap(uint32) ([]byte, uint32, int32, error) {
	n := runtime.NumCPU()
	m := make([]byte, (n+7)/8)
	for i := 0; i < n; i++ {
		m[i/8] |= 1 << (i % 8)
	}
	return m, uint32(n), int32(n), nil
}

func (c *conn) DomainCapabilities(emulator, arch, machine, virtType string, _ uint32) (string, error) {
	if emulator == "" {
		emulator = c.d.cfg.Emulator
	}
	if arch != "" && arch != hostArch() {
		return "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "emulator '%s' does not support arch '%s'", emulator, arch)
	}
	qc, err := c.d.caps.get(context.Background(), emulator)
	if err != nil {
		return "", err
	}
	if virtType == "" {
		virtType = "kvm"
		if !qc.KVM.Enabled {
			virtType = "qemu"
		}
	}
	return qc.DomainCapabilities(machine, virtType)
}

// hostSecModels is libvirtd's security stack on a host without SELinux or
// AppArmor: "none", and in privileged mode the DAC driver, whose base
// label is the user and group QEMU runs as (qemu.conf's user and group,
// else govirtd's own).
func (d *Driver) hostSecModels() []conf.CapsSecModel {
	models := []conf.CapsSecModel{{Model: "none", DOI: "0"}}
	if os.Geteuid() == 0 {
		l := fmt.Sprintf("+%d:+%d", os.Getuid(), os.Getgid())
		if d.sec.enabled {
			l = fmt.Sprintf("+%d:+%d", d.sec.uid, d.sec.gid)
		}
		models = append(models, conf.CapsSecModel{Model: "dac", DOI: "0", BaseLabels: map[string]string{"kvm": l, "qemu": l}})
	}
	return models
}
