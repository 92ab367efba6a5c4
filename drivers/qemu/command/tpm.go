package command

import (
	"errors"
	"os"
	"syscall"

	"govirt/conf"
	"govirt/virerr"
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
					// The caller's error carries no errno; a second
					// try tells it (only after a failure: a TPM
					// device opens once at a time).
					if h, e := os.OpenFile(f.path, f.flag, 0); e != nil {
						err = e
					} else {
						h.Close()
					}
					if f.suffix == "-tpm" {
						return tpmOpenError("", f.path, err)
					}
					return tpmOpenError("'s cancel path", f.path, err)
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
// TPM command of the host device, /dev/null when the host has none.
func (b *builder) tpmCancelPath(dev string) (string, error) {
	if b.p.Host != nil && b.p.Host.TPMCancelPath != nil {
		return b.p.Host.TPMCancelPath(dev)
	}
	i := strings.LastIndexByte(dev, '/')
	if i < 0 {
		return "", internalError("TPM device path %s is invalid", dev)
	}
	name := dev[i+1:]
	for _, p := range []string{"/sys/class/misc/" + name + "/device/cancel", "/sys/class/tpm/" + name + "/device/cancel"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "/dev/null", nil
}

// tpmOpenError is qemuBuildTPMOpenBackendFDs' message for a host TPM
// file QEMU cannot be given.
func tpmOpenError(what, path string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return virerr.New(virerr.FromQemu, virerr.ErrSystemError, "Could not open TPM device%s %s: %s", what, path, msg)
	}
	return err
}

func (b *builder) emulator() string {
	if e := b.def.Devices.Emulator; e != "" {
		return e
	}
	return "/usr/bin/qemu-system-x86_64"
}
