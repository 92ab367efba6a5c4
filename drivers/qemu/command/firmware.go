package command

// FirmwareDesc is one QEMU firmware descriptor (docs/interop/firmware.json).
type FirmwareDesc struct {
	Path string // the descriptor file
	Data []byte // its JSON
}

// systemFirmware reads the descriptors from libvirt's search path.
func systemFirmware() ([]FirmwareDesc, error) { return nil, nil }

// launchSecurity reports a <launchSecurity> the guest is started with.
func (b *builder) launchSecurity() bool { return false }

// pflashMachineParams are the pflash0/pflash1 node names of the firmware.
func (b *builder) pflashMachineParams() string { return "" }
