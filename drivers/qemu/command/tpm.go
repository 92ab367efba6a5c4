package command

import (
	"govirt/conf"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TPMs (<devices><tpm>): the backend's -chardev or passed descriptors,
// -tpmdev and the frontend -device (qemuBuildTPMsCommandLine), with the
// checks of qemuValidateDomainDeviceDefTPM. The emulator backend talks to
// an swtpm the driver starts on Paths.SwtpmSocket.

func (b *builder) emitTPMs() error {
	tpms := children(child(b.tree(), "devices"), "tpm")
	if len(tpms) > 1 {
		return unsupported("only a single TPM non-proxy device is supported")
	}
	// The live definition's views of the same devices, to record what
	// libvirt records: the alias and the emulator's version.
	raws := b.def.RawDevicesOf("tpm")
	for i, t := range tpms {
		var raw *conf.RawDevice
		if i < len(raws) {
			raw = raws[i]
		}
		alias := attr(child(t, "alias"), "name")
		if alias == "" {
			alias = "tpm" + strconv.Itoa(i)
		}
		model := attr(t, "model")
		if model == "" {
			model = "tpm-tis"
		}
		switch model {
		case "tpm-tis", "tpm-crb":
		case "tpm-spapr", "spapr-tpm-proxy":
			return unsupported("The QEMU executable %s does not support TPM model %s", b.emulator(), model)
		default:
			return xmlError("Unknown TPM frontend model '%s'", model)
		}
		be := child(t, "backend")
		typ := attr(be, "type")
		tpmdev := "tpm-" + alias
		var backend string
		switch typ {
		case "emulator":
			version := attr(be, "version")
			if version == "" {
				version = "1.2"
				if model == "tpm-crb" {
					version = "2.0"
				}
			}
			if version != "1.2" && version != "2.0" {
				return xmlError("Unsupported TPM version '%s'", version)
			}
			if raw != nil {
				conf.SetDeviceValue(raw, "backend/@version", version)
			}
			if !contains(b.host().swtpmVersions(), version) {
				return unsupported("TPM version '%s' is not supported", version)
			}
			if version == "1.2" && model == "tpm-crb" {
				return unsupported("Unsupported interface '%s' for TPM 1.2", model)
			}
			if !b.caps.Has("tpm-emulator") {
				return unsupported("The QEMU executable %s does not support TPM backend type emulator", b.emulator())
			}
			sock := b.p.SwtpmSocket
			if b.p.Pretend {
				// No swtpm is prepared, so the chardev source stays
				// unset: libvirt writes a null chardev.
				b.add("-chardev", "null,id=chrtpm")
				backend = "emulator,id=" + tpmdev + ",chardev=chrtpm"
				break
			}
			if sock == "" {
				return unsupported("an emulated TPM needs an swtpm started for the guest, which this caller of govirt's QEMU driver does not provide")
			}
			b.add("-chardev", "socket,id=chrtpm,path="+escapeComma(sock))
			backend = "emulator,id=" + tpmdev + ",chardev=chrtpm"
			b.swtpm = &Swtpm{Version: version, Socket: sock,
				SecretUUID:      attr(child(be, "encryption"), "secret"),
				PersistentState: attr(be, "persistent_state") == "yes"}
		case "external":
			src := child(be, "source")
			if attr(src, "type") != "unix" || attr(src, "path") == "" {
				return xmlError("missing socket path of the external TPM backend")
			}
			if m := attr(src, "mode"); m != "" && m != "connect" {
				return unsupportedValue("devices/tpm/backend/source", "mode", m)
			}
			if !b.caps.Has("tpm-emulator") {
				return unsupported("The QEMU executable %s does not support TPM backend type external", b.emulator())
			}
			b.add("-chardev", "socket,id=chrtpm,path="+escapeComma(attr(src, "path")))
			backend = "emulator,id=" + tpmdev + ",chardev=chrtpm"
		case "passthrough":
			if !b.caps.Has("tpm-passthrough") {
				return unsupported("The QEMU executable %s does not support TPM backend type passthrough", b.emulator())
			}
			dev := attr(child(be, "device"), "path")
			if dev == "" {
				dev = "/dev/tpm0"
			}
			cancel, err := b.tpmCancelPath(dev)
			if err != nil {
				return err
			}
			if b.p.OpenFD == nil {
				return unsupported("TPM passthrough needs descriptor passing, which this caller of govirt's QEMU driver does not provide")
			}
			var paths []string
			for _, f := range []struct {
				path, suffix string
				flag         int
			}{{dev, "-tpm", os.O_RDWR}, {cancel, "-cancel", os.O_WRONLY}} {
				fd, err := b.p.OpenFD(f.path, f.flag)
				if err != nil {
					return err
				}
				set := b.fdsets
				b.fdsets++
				b.add("-add-fd", "set="+strconv.Itoa(set)+",fd="+strconv.Itoa(fd)+",opaque="+alias+f.suffix)
				paths = append(paths, "/dev/fdset/"+strconv.Itoa(set))
			}
			backend = "passthrough,id=" + tpmdev + ",path=" + paths[0] + ",cancel-path=" + paths[1]
		default:
			return xmlError("Unknown TPM backend type '%s'", typ)
		}
		if !b.caps.Has(model) {
			return unsupported("The QEMU executable %s does not support TPM model %s", b.emulator(), model)
		}
		if raw != nil {
			conf.SetDeviceValue(raw, "alias/@name", alias)
		}
		b.add("-tpmdev", backend)
		b.device(obj{}.set("driver", model).set("tpmdev", tpmdev).set("id", alias))
	}
	return nil
}

// tpmCancelPath is virTPMCreateCancelPath: the sysfs file that cancels a
// TPM command of the host device.
func (b *builder) tpmCancelPath(dev string) (string, error) {
	if b.p.Host != nil && b.p.Host.TPMCancelPath != nil {
		return b.p.Host.TPMCancelPath(dev)
	}
	name := filepath.Base(dev)
	if !strings.HasPrefix(name, "tpm") {
		return "", unsupported("TPM device path %s is invalid", dev)
	}
	for _, p := range []string{"/sys/class/tpm/" + name + "/device/cancel", "/sys/class/misc/" + name + "/device/cancel"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", unsupported("No usable sysfs TPM cancel file could be found")
}

func (b *builder) emulator() string {
	if e := b.def.Devices.Emulator; e != "" {
		return e
	}
	return "/usr/bin/qemu-system-x86_64"
}
