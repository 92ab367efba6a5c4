package test

import (
	"os"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Core dumps, save-image definitions, launch security and host pages as
// libvirt 9.0's test driver answers them.

var (
	_ driver.DomainCoreDumper     = (*conn)(nil)
	_ driver.DomainSaveImages     = (*conn)(nil)
	_ driver.DomainLaunchSecurity = (*conn)(nil)
	_ driver.NodePages            = (*conn)(nil)
)

// dumpCrash is VIR_DUMP_CRASH, the only dump flag the test driver takes.
const dumpCrash = 1 << 0

func (in *instance) DomainCoreDump(d driver.Domain, to string, flags uint32) error {
	return in.DomainCoreDumpWithFormat(d, to, 0, flags)
}

// DomainCoreDumpWithFormat is testDomainCoreDumpWithFormat: the "core" is
// the save image's magic alone. A format other than raw is refused only
// after the file was written, as libvirt does.
func (in *instance) DomainCoreDumpWithFormat(d driver.Domain, to string, format, flags uint32) error {
	if err := checkFlags(flags, dumpCrash, "testDomainCoreDumpWithFormat"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		f, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return errSystem(err, "domain '%s' coredump: failed to open %s", d.Name, to)
		}
		if _, err := f.Write(saveMagic); err != nil {
			f.Close()
			return errSystem(err, "domain '%s' coredump: failed to write header to %s", d.Name, to)
		}
		if err := f.Close(); err != nil {
			return errSystem(err, "domain '%s' coredump: write failed: %s", d.Name, to)
		}
		if format != 0 {
			return errTest(virerr.ErrOperationUnsupported, "kdump-compressed format is not supported here")
		}
		if flags&dumpCrash != 0 {
			in.stop(o, driver.ShutoffCrashed, driver.EventStoppedCrashed, true)
		}
		return nil
	})
}

// saveImageXMLSecure is VIR_DOMAIN_SAVE_IMAGE_XML_SECURE.
const saveImageXMLSecure = 1 << 0

// DomainSaveImageGetXMLDesc is the definition a save image carries,
// always formatted with secrets (libvirt's test driver ignores the flag
// it accepts).
func (in *instance) DomainSaveImageGetXMLDesc(path string, flags uint32) (string, error) {
	if err := checkFlags(flags, saveImageXMLSecure, "testDomainSaveImageGetXMLDesc"); err != nil {
		return "", err
	}
	def, err := readSaveImage(path)
	if err != nil {
		return "", err
	}
	out, err := def.Format(conf.FormatSecure)
	return string(out), err
}

// Save flags save-image-define takes (and the test driver forgets).
const (
	saveRunning = 1 << 1
	savePaused  = 1 << 2
)

// DomainSaveImageDefineXML replaces the image's definition with dxml.
// libvirt's test driver checks only that the image reads and that dxml
// parses: name and UUID may differ from the saved guest's.
func (in *instance) DomainSaveImageDefineXML(path, dxml string, flags uint32) error {
	if err := checkFlags(flags, saveRunning|savePaused, "testDomainSaveImageDefineXML"); err != nil {
		return err
	}
	if _, err := readSaveImage(path); err != nil {
		return err
	}
	def, err := parseImageDomain(dxml)
	if err != nil {
		return err
	}
	return writeSaveImage(path, def)
}

// DomainGetLaunchSecurityInfo takes no flags, and the public API adds
// VIR_TYPED_PARAM_STRING_OKAY for a driver that takes string parameters,
// as the test driver does: every call is refused. The domain is not
// looked up.
func (in *instance) DomainGetLaunchSecurityInfo(d driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags|typedParamStringOkay, 0, "testDomainGetLaunchSecurityInfo"); err != nil {
		return nil, err
	}
	return []driver.TypedParam{}, nil
}

// NodeGetFreePages is testNodeGetFreePages: it fills its counts but
// reports none of them (it returns 0), which libvirtd's dispatcher turns
// into an error.
func (in *instance) NodeGetFreePages(sizes []uint32, startCell int32, cellCount uint32, flags uint32) ([]uint64, error) {
	if err := checkFlags(flags, 0, "testNodeGetFreePages"); err != nil {
		return nil, err
	}
	return []uint64{}, nil
}

// NodeAllocPages is not in libvirt's test driver.
func (in *instance) NodeAllocPages(sizes []uint32, counts []uint64, startCell int32, cellCount uint32, flags uint32) (int32, error) {
	return 0, errNoSupport(virerr.FromDomain, "virNodeAllocPages")
}

var _ driver.DomainFileStarter = (*conn)(nil)

// DomainCreateXMLWithFiles ignores the descriptors, as libvirt's test
// driver does.
func (in *instance) DomainCreateXMLWithFiles(xml string, _ []*os.File, flags uint32) (driver.Domain, error) {
	return in.DomainCreateXML(xml, flags)
}

func (in *instance) DomainCreateWithFiles(d driver.Domain, _ []*os.File, flags uint32) (driver.Domain, error) {
	return in.DomainCreate(d, flags)
}
