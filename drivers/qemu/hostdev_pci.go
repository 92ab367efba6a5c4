package qemu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// PCI host devices go to the guest through vfio-pci. A managed one
// (managed='yes', libvirt's default) is taken from its host driver and
// bound to vfio-pci before QEMU starts and given back when the guest
// stops, as libvirt's virHostdevPreparePCIDevices and
// virHostdevReAttachPCIDevices do through sysfs: driver_override, unbind,
// drivers_probe. An unmanaged one must be bound to vfio-pci already. The
// functions taken are recorded in DomainDir/hostdev-pci.json with their
// original driver, so a restarted daemon still gives them back.

// sysfsPCI is the root of the PCI sysfs tree (a variable for tests with
// a fake tree).
var sysfsPCI = "/sys/bus/pci"

// hostPCIRecord is one function taken from its host driver.
type hostPCIRecord struct {
	Address string `json:"address"`
	Driver  string `json:"driver"` // "" when it had none
}

const hostPCIRecordFile = "hostdev-pci.json"

// pciDriver is the driver a PCI function is bound to, "" for none.
func pciDriver(addr string) string {
	l, err := os.Readlink(filepath.Join(sysfsPCI, "devices", addr, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}

func sysfsWrite(path, v string) error { return os.WriteFile(path, []byte(v), 0o200) }

// bindPCI binds a function to driver ("" gives it back to whatever
// driver the kernel picks), through driver_override and drivers_probe.
func bindPCI(addr, driver string) error {
	dev := filepath.Join(sysfsPCI, "devices", addr)
	override := driver
	if override == "" {
		override = "\n" // clears the override
	}
	if err := sysfsWrite(filepath.Join(dev, "driver_override"), override); err != nil {
		return err
	}
	if cur := pciDriver(addr); cur != "" {
		if cur == driver {
			return nil
		}
		if err := sysfsWrite(filepath.Join(dev, "driver", "unbind"), addr); err != nil {
			return err
		}
	}
	return sysfsWrite(filepath.Join(sysfsPCI, "drivers_probe"), addr)
}

// prepareHostPCI binds the guest's PCI host devices to vfio-pci; on
// failure the ones it took are given back.
func prepareHostPCI(dir string, devs []command.HostPCI) error {
	if len(devs) == 0 {
		return nil
	}
	var taken []hostPCIRecord
	save := func() error {
		data, _ := json.Marshal(taken)
		return os.WriteFile(filepath.Join(dir, hostPCIRecordFile), data, 0o600)
	}
	fail := func(err error) error {
		reattachHostPCI(dir)
		return err
	}
	for _, h := range devs {
		if _, err := os.Stat(filepath.Join(sysfsPCI, "devices", h.Address)); err != nil {
			return fail(errQEMU(virerr.ErrInternalError, "Device %s not found: could not access %s: %v",
				h.Address, filepath.Join(sysfsPCI, "devices", h.Address, "config"), err))
		}
		cur := pciDriver(h.Address)
		if cur == "vfio-pci" {
			continue
		}
		if !h.Managed {
			return fail(errQEMU(virerr.ErrOperationInvalid, "PCI device %s is not bound to vfio-pci and is not managed", h.Address))
		}
		// Recorded before the change, so a crash in between still
		// gives it back.
		taken = append(taken, hostPCIRecord{Address: h.Address, Driver: cur})
		if err := save(); err != nil {
			return fail(errQEMU(virerr.ErrSystemError, "cannot record host devices: %v", err))
		}
		if _, err := os.Stat(filepath.Join(sysfsPCI, "drivers", "vfio-pci")); err != nil {
			return fail(errQEMU(virerr.ErrInternalError, "Failed to find the vfio-pci driver (is the vfio-pci module loaded?)"))
		}
		if err := bindPCI(h.Address, "vfio-pci"); err != nil || !waitPCIDriver(h.Address, "vfio-pci") {
			return fail(errQEMU(virerr.ErrSystemError, "Failed to bind PCI device '%s' to vfio-pci: %v", h.Address, err))
		}
	}
	return nil
}

// waitPCIDriver waits briefly for the kernel to finish a probe.
func waitPCIDriver(addr, want string) bool {
	for i := 0; i < 50; i++ {
		if pciDriver(addr) == want {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// reattachHostPCI gives the functions recorded in dir back to their
// host drivers; the guest has stopped (or never started).
func reattachHostPCI(dir string) {
	path := filepath.Join(dir, hostPCIRecordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var recs []hostPCIRecord
	if json.Unmarshal(data, &recs) == nil {
		for _, r := range recs {
			if strings.ContainsAny(r.Address, "/") {
				continue
			}
			_ = bindPCI(r.Address, "")
		}
	}
	os.Remove(path)
}
