package command

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/virerr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeCaps says what QEMU 7.2 on x86_64 has, as far as the builder asks.
type fakeCaps struct {
	flags map[string]bool
	types map[string]bool
}

func (c fakeCaps) Has(f string) bool      { return c.flags[f] }
func (c fakeCaps) HasType(t string) bool  { return c.types[t] }
func (c fakeCaps) DefaultMachine() string { return "pc-i440fx-7.2" }
func (c fakeCaps) MachineAlias(name string) string {
	switch name {
	case "q35":
		return "pc-q35-7.2"
	case "pc":
		return "pc-i440fx-7.2"
	}
	return name
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func qemu72() fakeCaps {
	return fakeCaps{
		flags: set("blockdev", "device.json+hotplug", "seccomp-sandbox", "no-hpet", "smp-dies", "kvm-pit-lost-tick-policy",
			"vnc", "spice", "vnc-power-control", "qxl.vgamem_mb", "qxl.vram64_size_mb", "acpi-index",
			// platform: memory backends, iothreads, TSEG, TPM, genid
			"memory-backend-file.x-use-canonical-path-for-ramblock-id", "thread-context", "memory-backend-memfd",
			"memory-backend-memfd.hugetlb", "iothread.thread-pool-max", "mch.extended-tseg-mbytes", "vmcoreinfo",
			"vmgenid", "tpm-tis", "tpm-crb", "tpm-emulator", "tpm-passthrough", "memory-backend-file.prealloc-threads",
			"memory-backend-file.reserve", "cpu.migratable", "memory-backend-file.pmem",
			"virtio-pci-non-transitional", "virtio-net.rss", "fsdev.multidevs", "vhost-user-fs",
			"memory-backend-file.x-use-canonical-path-for-ramblock-id", "intel-iommu", "intel-iommu.intremap",
			"intel-iommu.caching-mode", "intel-iommu.eim", "intel-iommu.device-iotlb", "intel-iommu.aw-bits",
			"virtio-iommu-pci", "virtio-iommu.boot-bypass", "memory-backend-memfd"),
		types: set("memory-backend-ram", "qemu64-x86_64-cpu", "Nehalem-x86_64-cpu", "host-x86_64-cpu", "max-x86_64-cpu",
			"pcie-root-port", "piix3-usb-uhci", "qemu-xhci", "nec-usb-xhci", "virtio-scsi-pci", "lsi53c895a", "ich9-ahci", "ich9-intel-hda", "intel-hda", "AC97", "hda-duplex", "usb-redir", "qxl-vga", "ich9-usb-ehci1", "ich9-usb-uhci1", "ich9-usb-uhci2", "ich9-usb-uhci3",
			"virtio-serial-pci", "virtserialport", "virtio-blk-pci", "ide-hd", "ide-cd", "scsi-hd", "scsi-cd",
			"virtio-net-pci", "e1000", "e1000e", "rtl8139", "isa-serial", "usb-tablet", "usb-mouse", "usb-kbd",
			"VGA", "cirrus-vga", "bochs-display", "virtio-vga", "virtio-gpu-pci", "i6300esb", "ib700",
			"virtio-balloon-pci", "rng-random", "rng-builtin", "virtio-rng-pci", "pvpanic",
			"isa-parallel", "isa-debugcon", "pci-serial", "usb-serial", "virtconsole", "usb-ehci",
			"ich9-usb-ehci1", "ich9-usb-uhci1", "ich9-usb-uhci2", "ich9-usb-uhci3", "usb-hub", "usb-redir",
			"usb-ccid", "ccid-card-passthru", "virtio-tablet-pci", "virtio-keyboard-pci", "virtio-mouse-pci",
			"rng-egd", "input-linux", "pcie-pci-bridge", "pci-bridge", "i82801b11-bridge", "x3130-upstream",
			"xio3130-downstream", "pxb", "pxb-pcie", "ioh3420",
			"qxl-vga", "qxl", "ramfb", "vmware-svga", "intel-hda", "ich9-intel-hda", "hda-duplex", "hda-micro",
			"hda-output", "AC97", "ES1370", "sb16", "usb-audio",
			"memory-backend-file", "memory-backend-memfd", "pc-dimm", "nvdimm", "thread-context", "iothread",
			"main-loop", "vmgenid", "vmcoreinfo", "tpm-tis", "tpm-crb", "Haswell-x86_64-cpu", "qemu32-x86_64-cpu",
			"virtio-9p-pci", "vhost-user-fs-pci", "virtio-mouse-pci", "virtio-keyboard-pci", "virtio-tablet-pci",
			"virtio-net-pci-non-transitional", "virtio-rng-pci-non-transitional", "memory-backend-memfd",
			"intel-iommu", "virtio-iommu-pci", "tls-creds-x509", "virtio-mem-pci", "virtio-pmem-pci",
			"ich9-usb-ehci1", "ich9-usb-uhci1", "ich9-usb-uhci2", "ich9-usb-uhci3",
			"secret", "isa-fdc", "floppy", "usb-storage", "scsi-block", "mptsas1068", "megasas", "pvscsi",
			"am53c974", "dc-390", "vhost-user-blk-pci"),
	}
}

// goldenDir stands for the directory of disk images and sockets in
// testdata/*.xml (@DIR@).
const goldenDir = "/var/lib/govirt/test"

func goldenPaths(name string) Paths {
	run := "/run/govirt/qemu/" + name
	p := Paths{MonitorSocket: run + "/monitor.sock", DomainDir: run}
	withTestSecrets(&p)
	return p
}

// testPassphrase is the value of every secret the goldens name.
const testPassphrase = "govirt-test-passphrase"

// withTestSecrets gives p a fixed master key and IV (so the encrypted
// secrets in the goldens are stable), a secret store answering every
// lookup with testPassphrase, and no host CD-ROM drives.
func withTestSecrets(p *Paths) {
	p.MasterKeyData = counting(32)
	p.RandomIV = func() ([]byte, error) { return counting(16), nil }
	p.Secrets = func(SecretRef) ([]byte, error) { return []byte(testPassphrase), nil }
	p.IsCDROM = func(string) bool { return false }
}

// goldenSpicePaths is goldenPaths where SPICE autoport gets libvirt's
// placeholder ports (5901, 5902), as a start without allocation
// (qemuxml2argvtest).
func goldenSpicePaths(name string) Paths {
	p := goldenPaths(name)
	spice := 5900
	p.SpicePort = func() (int, error) { spice++; return spice, nil }
	return p
}

func loadDomain(t *testing.T, file, dir string) *conf.Domain {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "@DIR@", dir))
	def, err := conf.ParseDomain(data, conf.ParseValidate)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return def
}

// formatArgs writes a command line the way libvirt's .args files do: one
// argument per line, quoted for a shell where needed.
func formatArgs(c *Cmdline) string {
	var lines []string
	for _, e := range c.Env {
		// libvirt quotes the value of a variable, not the name.
		n, v, _ := strings.Cut(e, "=")
		lines = append(lines, n+"="+shellQuote(v))
	}
	for i := 0; i < len(c.Argv); i++ {
		line := shellQuote(c.Argv[i])
		// An option and its value share a line.
		if i > 0 && strings.HasPrefix(c.Argv[i], "-") && i+1 < len(c.Argv) && !strings.HasPrefix(c.Argv[i+1], "-") {
			i++
			line += " " + shellQuote(c.Argv[i])
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, " \\\n") + "\n"
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"\\$`!*?[]{}();&|<>~#\t\n") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s", path, got)
	}
}

func testFiles(t *testing.T) []string {
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".live.xml") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("no testdata")
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, f := range testFiles(t) {
		base := strings.TrimSuffix(f, ".xml")
		name := filepath.Base(base)
		t.Run(name, func(t *testing.T) {
			def := loadDomain(t, f, goldenDir)
			cl, err := Build(def, qemu72(), goldenSpicePaths(name))
			if strings.HasPrefix(name, "unsupported-") {
				if err == nil {
					t.Fatal("Build succeeded, want an error")
				}
				var ve *virerr.Error
				if !errors.As(err, &ve) || ve.Code != virerr.ErrConfigUnsupported || ve.Domain != virerr.FromQemu {
					t.Fatalf("error %#v, want VIR_ERR_CONFIG_UNSUPPORTED from VIR_FROM_QEMU", err)
				}
				golden(t, base+".err", err.Error()+"\n")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, base+".args", formatArgs(cl))
			// Status view: the goldens record the node names the builder
			// chose, which client XML leaves out.
			live, err := def.Format(conf.FormatStatus)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, base+".live.xml", string(live))
			// The live definition must read back, and building it
			// again must give the same command line: everything Build
			// recorded is something it honours.
			again, err := conf.ParseDomain(live, conf.ParseLive)
			if err != nil {
				t.Fatalf("live XML does not parse: %v", err)
			}
			cl2, err := Build(again, qemu72(), goldenSpicePaths(name))
			if err != nil {
				t.Fatalf("rebuilding the live definition: %v", err)
			}
			if a, b := formatArgs(cl), formatArgs(cl2); a != b {
				t.Errorf("rebuilding the live definition changed the command line:\n%s\nvs\n%s", a, b)
			}
		})
	}
}

// A failed Build leaves the definition as it was.
func TestBuildFailureLeavesDefinition(t *testing.T) {
	def := loadDomain(t, "testdata/unsupported-interface-network.xml", goldenDir)
	before, _ := def.Format(0)
	if _, err := Build(def, qemu72(), goldenPaths("x")); err == nil {
		t.Fatal("want an error")
	}
	after, _ := def.Format(0)
	if string(before) != string(after) {
		t.Errorf("definition changed by a failed Build:\n%s", after)
	}
}

// A device type the binary lacks is refused before QEMU is started.
func TestMissingType(t *testing.T) {
	c := qemu72()
	delete(c.types, "virtio-blk-pci")
	def := loadDomain(t, "testdata/disk-raw-virtio.xml", goldenDir)
	_, err := Build(def, c, goldenPaths("x"))
	if err == nil || !strings.Contains(err.Error(), "virtio-blk-pci") {
		t.Fatalf("got %v, want an error naming virtio-blk-pci", err)
	}
}

func TestElementPaths(t *testing.T) {
	def := loadDomain(t, "testdata/unsupported-hostdev.xml", goldenDir)
	paths := def.ElementPaths()
	found := false
	for _, p := range paths {
		if p == "devices/hostdev/source/char" {
			found = true
		}
	}
	if !found {
		t.Errorf("ElementPaths() = %v, lacks devices/hostdev/source/char", paths)
	}
}

func TestDiskIndex(t *testing.T) {
	for dev, want := range map[string]int{"vda": 0, "sdb": 1, "hdz": 25, "vdaa": 26, "sdab": 27} {
		if got, ok := diskIndex(dev); !ok || got != want {
			t.Errorf("diskIndex(%q) = %d, %v; want %d", dev, got, ok, want)
		}
	}
	if _, ok := diskIndex("xyz"); ok {
		t.Error("diskIndex(xyz) accepted")
	}
}

// With a port allocator, autoport VNC gets its port on the command line
// and in the live definition.
func TestVNCPortAllocator(t *testing.T) {
	def := loadDomain(t, "testdata/vnc-autoport.xml", goldenDir)
	p := goldenPaths("x")
	p.VNCPort = func() (int, error) { return 5907, nil }
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(cl.Argv, " "), "-vnc 127.0.0.1:7,audiodev=audio1") {
		t.Errorf("argv %q lacks -vnc 127.0.0.1:7", cl.Argv)
	}
	if g := def.Devices.Graphics[0]; g.Port != 5907 {
		t.Errorf("live port %d, want 5907", g.Port)
	}
}

// Conventional PCI devices on q35 go behind a pcie-to-pci-bridge (placed
// by the post-parse step), which the builder writes before them.
func TestQ35LegacyPCIBehindBridge(t *testing.T) {
	def := loadDomain(t, "testdata/nics.xml", goldenDir)
	def.OS.Machine = "q35"
	cl, err := Build(def, qemu72(), goldenPaths("x"))
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(cl.Argv, " ")
	br := strings.Index(argv, `"driver":"pcie-pci-bridge"`)
	nic := strings.Index(argv, `"driver":"e1000"`)
	if br < 0 || nic < br {
		t.Fatalf("argv lacks a pcie-pci-bridge before the e1000: %s", argv)
	}
	var bridge *conf.Controller
	for _, c := range def.Devices.Controllers {
		if c.Model == "pcie-to-pci-bridge" {
			bridge = c
		}
	}
	if bridge == nil || !strings.Contains(argv[nic:], fmt.Sprintf(`"bus":"pci.%d"`, bridge.Index)) {
		t.Fatalf("e1000 is not on the bridge: %s", argv)
	}
}

// Bridge interfaces are reported to the driver, which enslaves the tap.
func TestBridgeTap(t *testing.T) {
	def := loadDomain(t, "testdata/nics.xml", goldenDir)
	n := def.Devices.Interfaces[1]
	n.Type, n.Bridge, n.TargetDev = "bridge", "br0", ""
	cl, err := Build(def, qemu72(), goldenPaths("x"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Taps) != 1 || cl.Taps[0].Bridge != "br0" || cl.Taps[0].IfName == "" {
		t.Fatalf("Taps = %+v", cl.Taps)
	}
	if got := def.Devices.Interfaces[1].TargetDev; got != cl.Taps[0].IfName || len(got) > 15 {
		t.Errorf("live target dev %q, tap %q", got, cl.Taps[0].IfName)
	}
}
