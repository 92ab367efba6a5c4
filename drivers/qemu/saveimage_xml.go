package qemu

import (
	"bytes"
	"os"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// The definition a save image carries: read it (save-image-dumpxml,
// managedsave-dumpxml) and replace it (save-image-define,
// managedsave-define) as libvirt's qemuDomainSaveImageGetXMLDesc and
// qemuDomainSaveImageDefineXML do. A new definition must keep the
// guest's ABI (checkABI), and --running/--paused rewrite whether the
// restored guest runs.

// virDomainSaveRestoreFlags.
const (
	saveBypassCache = 1 << 0
	saveRunning     = 1 << 1
	savePaused      = 1 << 2
	saveResetNVRAM  = 1 << 3
)

// saveImageXMLSecure is VIR_DOMAIN_SAVE_IMAGE_XML_SECURE.
const saveImageXMLSecure = 1 << 0

// imageDef is qemuSaveImageUpdateDef: the user's definition, completed
// as a define would, if it describes the same guest as orig.
func (d *Driver) imageDef(orig *conf.Domain, newXML string) (*conf.Domain, error) {
	nd, err := parseDef(newXML, false)
	if err != nil {
		return nil, err
	}
	if err := d.applyPostParse(nd); err != nil {
		return nil, err
	}
	if err := checkABI(orig, nd); err != nil {
		return nil, err
	}
	return nd, nil
}

// openSaveImage opens a save image and reads its header, with
// libvirt's errors.
func openSaveImage(path string, write bool) (*os.File, *saveHeader, error) {
	mode := os.O_RDONLY
	if write {
		mode = os.O_RDWR
	}
	f, err := os.OpenFile(path, mode, 0)
	if err != nil {
		return nil, nil, errQEMU(virerr.ErrSystemError, "Failed to open file '%s': %s", path, errnoText(err))
	}
	h, err := readSaveImage(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, h, nil
}

// imageXML formats the image's definition for a client.
func imageXML(h *saveHeader, flags uint32) (string, error) {
	def, err := conf.ParseDomain(h.xml, 0)
	if err != nil {
		return "", err
	}
	def.ID = -1
	// libvirt parses the image's definition as an inactive one, which
	// drops the image indexes of the running guest's disks.
	for _, disk := range def.Devices.Disks {
		for s := &disk.Source; s != nil; s = s.Backing {
			s.Index = 0
		}
	}
	out, err := def.Format(conf.FormatFlags(flags & saveImageXMLSecure))
	return string(out), err
}

func (c *conn) DomainSaveImageGetXMLDesc(path string, flags uint32) (string, error) {
	if err := checkFlagsMask(flags, saveImageXMLSecure, "qemuDomainSaveImageGetXMLDesc"); err != nil {
		return "", err
	}
	f, h, err := openSaveImage(path, false)
	if err != nil {
		return "", err
	}
	f.Close()
	return imageXML(h, flags)
}

func (c *conn) DomainSaveImageDefineXML(path, dxml string, flags uint32) error {
	if err := checkFlagsMask(flags, saveRunning|savePaused, "qemuDomainSaveImageDefineXML"); err != nil {
		return err
	}
	return c.d.defineImageXML(path, dxml, flags)
}

func (d *Driver) defineImageXML(path, dxml string, flags uint32) error {
	f, h, err := openSaveImage(path, true)
	if err != nil {
		return err
	}
	defer f.Close()
	state := -1
	switch {
	case flags&saveRunning != 0:
		state = 1
	case flags&savePaused != 0:
		state = 0
	}
	if string(h.xml) == dxml && (state < 0 || (state == 1) == h.wasRunning) {
		return nil // no change
	}
	if state >= 0 {
		h.wasRunning = state == 1
	}
	orig, err := conf.ParseDomain(h.xml, 0)
	if err != nil {
		return err
	}
	nd, err := d.imageDef(orig, dxml)
	if err != nil {
		return err
	}
	xml, err := d.formatMigratable(nd)
	if err != nil {
		return err
	}
	if len(xml) > int(h.room) {
		return errQEMU(virerr.ErrOperationFailed, "new xml too large to fit in file")
	}
	if h.version == saveVersion1 {
		// The first layout has no room: a shorter XML is padded with
		// the blanks XML allows after the root element.
		xml = append(xml, bytes.Repeat([]byte(" "), int(h.room)-len(xml))...)
	}
	h.xml = xml
	if _, err := f.WriteAt(h.encode(saveMagic), 0); err != nil {
		return errQEMU(virerr.ErrSystemError, "failed to write header to domain save file '%s': %v", path, err)
	}
	if err := f.Close(); err != nil {
		return errQEMU(virerr.ErrSystemError, "failed to write header data to '%s': %v", path, err)
	}
	return nil
}

// managedImage is the guest's managed save image path, refusing a guest
// without one as libvirt.
func (c *conn) managedImage(h driver.Domain) (string, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return "", err
	}
	v.mu.Lock()
	name := v.name
	v.mu.Unlock()
	path, err := c.d.managedSavePath(name)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", errQEMU(virerr.ErrOperationInvalid, "domain does not have managed save image")
	}
	return path, nil
}

func (c *conn) DomainManagedSaveGetXMLDesc(h driver.Domain, flags uint32) (string, error) {
	if err := checkFlagsMask(flags, saveImageXMLSecure, "qemuDomainManagedSaveGetXMLDesc"); err != nil {
		return "", err
	}
	path, err := c.managedImage(h)
	if err != nil {
		return "", err
	}
	f, hdr, err := openSaveImage(path, false)
	if err != nil {
		return "", err
	}
	f.Close()
	return imageXML(hdr, flags)
}

func (c *conn) DomainManagedSaveDefineXML(h driver.Domain, dxml string, flags uint32) error {
	path, err := c.managedImage(h)
	if err != nil {
		return err
	}
	if err := checkFlagsMask(flags, saveRunning|savePaused, "qemuDomainSaveImageDefineXML"); err != nil {
		return err
	}
	return c.d.defineImageXML(path, dxml, flags)
}
