package command

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"govirt/drivers/qemu/caps"
)

// Host is what the builder needs to know about the host beyond the QEMU
// binary: hugetlbfs mounts, where file-backed guest RAM lives, which
// host NUMA nodes exist, the clock. libvirt reads the same from its
// qemu.conf and the system; its tests fake them, and so can ours.
type Host struct {
	// Hugepages are the mounted hugetlbfs file systems.
	Hugepages []Hugepages
	// NVRAMDir holds the UEFI varstores libvirt names after the guest
	// (qemu.conf's nvram_dir); default /var/lib/libvirt/qemu/nvram.
	NVRAMDir string
	// MemoryBackingDir holds file-backed guest RAM (qemu.conf's
	// memory_backing_dir).
	MemoryBackingDir string
	// PageSizeKiB is the system page size.
	PageSizeKiB uint64
	// NUMANode reports an error for a host NUMA node that does not exist.
	NUMANode func(node int) error
	// Now is the time a <clock offset='variable'> counts from.
	Now func() time.Time
	// Firmware lists the firmware descriptors for <os firmware=''>
	// auto-selection, in libvirt's search order and precedence.
	Firmware func() ([]FirmwareDesc, error)
	// SwtpmVersions are the TPM versions the host's swtpm emulates
	// ("1.2", "2.0"); nil without swtpm.
	SwtpmVersions func() []string
	// NewUUID makes the value of a <genid/> written without one; nil
	// draws a random one.
	NewUUID func() string
	// FileExists reports whether a UEFI varstore exists already; nil
	// asks the file system.
	FileExists func(path string) bool
	// TPMCancelPath is the sysfs cancel file of a host TPM device.
	TPMCancelPath func(dev string) (string, error)
}

func (h *Host) swtpmVersions() []string {
	if h.SwtpmVersions == nil {
		return nil
	}
	return h.SwtpmVersions()
}

// Hugepages is one hugetlbfs mount.
type Hugepages struct {
	Dir     string
	SizeKiB uint64
	Default bool // the system's default huge page size
}

// SystemHost is the real host as the builder sees it, for callers that
// change a field (NVRAMDir) and pass it in Paths.Host.
func SystemHost() Host { return *systemHost() }

// hostOf is the Host a build uses: the caller's or the real system's.
func (b *builder) host() *Host {
	if b.p.Host != nil {
		return b.p.Host
	}
	return systemHost()
}

var systemHost = sync.OnceValue(func() *Host {
	h := &Host{
		MemoryBackingDir: "/var/lib/libvirt/qemu/ram",
		PageSizeKiB:      uint64(os.Getpagesize() / 1024),
		NUMANode: func(n int) error {
			if _, err := os.Stat("/sys/devices/system/node/node" + strconv.Itoa(n)); err != nil {
				return unsupported("NUMA node %d is unavailable", n)
			}
			return nil
		},
		Now:           time.Now,
		Firmware:      systemFirmware,
		SwtpmVersions: caps.SwtpmVersions,
	}
	def := defaultHugepageKiB()
	if f, err := os.Open("/proc/mounts"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 || fs[2] != "hugetlbfs" {
				continue
			}
			size := def
			for _, o := range strings.Split(fs[3], ",") {
				if v, ok := strings.CutPrefix(o, "pagesize="); ok {
					if kib, err := parseSizeSuffix(v); err == nil {
						size = kib
					}
				}
			}
			h.Hugepages = append(h.Hugepages, Hugepages{Dir: fs[1], SizeKiB: size, Default: size == def})
		}
	}
	return h
})

// defaultHugepageKiB is Hugepagesize from /proc/meminfo.
func defaultHugepageKiB() uint64 {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Hugepagesize:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 2048
}

// parseSizeSuffix reads a mount option size such as 2M or 1G into KiB.
func parseSizeSuffix(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"), strings.HasSuffix(s, "k"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n * mult, err
}
