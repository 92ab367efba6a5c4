package test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// A save image is what libvirt's test driver writes, so images move
// between the two: the magic with its NUL, the XML length as a native
// (little-endian here) int, then the domain XML.
var saveMagic = []byte("TestGuestMagic\x00")

const maxSaveXML = 8192

// errSystem formats a virReportSystemError: the message, then strerror.
func errSystem(err error, format string, args ...any) error {
	var errno syscall.Errno
	msg := fmt.Sprintf(format, args...)
	if errors.As(err, &errno) {
		msg += ": " + errnoText(errno)
	}
	return virerr.Raw(virerr.FromTest, virerr.ErrSystemError, msg)
}

// errnoText is strerror: Go's texts are lower-case versions of glibc's.
func errnoText(e syscall.Errno) string {
	s := e.Error()
	if s == "" {
		return s
	}
	return string(bytes.ToUpper([]byte(s[:1]))) + s[1:]
}

func writeSaveImage(path string, def *conf.Domain) error {
	xml, err := def.Format(conf.FormatSecure)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Write(saveMagic)
	_ = binary.Write(&b, binary.LittleEndian, int32(len(xml)))
	b.Write(xml)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return errSystem(err, "saving domain '%s' to '%s': open failed", def.Name, path)
	}
	_, err = f.Write(b.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return errSystem(err, "saving domain '%s' to '%s': write failed", def.Name, path)
	}
	return nil
}

func readSaveImage(path string) (*conf.Domain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errSystem(err, "cannot read domain image '%s'", path)
	}
	defer f.Close()
	magic := make([]byte, len(saveMagic))
	if _, err := io.ReadFull(f, magic); err != nil {
		return nil, errSystem(err, "incomplete save header in '%s'", path)
	}
	if !bytes.Equal(magic, saveMagic) {
		return nil, errInternal("mismatched header magic")
	}
	var n int32
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return nil, errSystem(err, "failed to read metadata length in '%s'", path)
	}
	if n < 1 || n > maxSaveXML {
		return nil, errInternal("length of metadata out of range")
	}
	xml := make([]byte, n)
	if _, err := io.ReadFull(f, xml); err != nil {
		return nil, errSystem(err, "incomplete metadata in '%s'", path)
	}
	// testDomainSaveImageOpen parses without the interface names a
	// define or start adds.
	return parseImageDomain(string(xml))
}

// parseImageDomain is the parse of a save image's definition (and of the
// one save-image-define writes): defaults applied, interfaces left as
// written.
func parseImageDomain(xml string) (*conf.Domain, error) {
	def, err := conf.ParseDomain([]byte(xml), 0)
	if err != nil {
		return nil, err
	}
	applyDefaults(def)
	return def, nil
}

func errXMLModification() error {
	return errTest(virerr.ErrArgumentUnsupported, "xml modification unsupported")
}

func (in *instance) DomainSave(d driver.Domain, path, dxml string, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainSaveFlags"); err != nil {
		return err
	}
	if dxml != "" {
		return errXMLModification()
	}
	return in.updateDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		if err := writeSaveImage(path, o.def); err != nil {
			return err
		}
		in.stop(o, driver.ShutoffSaved, driver.EventStoppedSaved, true)
		return nil
	})
}

func (in *instance) DomainRestore(path, dxml string, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainRestoreFlags"); err != nil {
		return err
	}
	if dxml != "" {
		return errXMLModification()
	}
	def, err := readSaveImage(path)
	if err != nil {
		return err
	}
	if err := generateIfnames(def); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	o, _, err := in.addDef(def, true)
	if err != nil {
		return err
	}
	in.start(o, driver.RunningRestored)
	in.lifecycle(o.handle(), driver.EventStarted, driver.EventStartedRestored)
	return nil
}

func (in *instance) DomainManagedSave(d driver.Domain, flags uint32) error {
	const bypassCache, running, paused = 1 << 0, 1 << 1, 1 << 2
	if err := checkFlags(flags, bypassCache|running|paused, "testDomainManagedSave"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		if !o.persistent {
			return errTest(virerr.ErrOperationInvalid, "cannot do managed save for transient domain")
		}
		in.stop(o, driver.ShutoffSaved, driver.EventStoppedSaved, true)
		o.managed = true
		return nil
	})
}

func (in *instance) DomainHasManagedSaveImage(d driver.Domain, flags uint32) (bool, error) {
	var on bool
	err := in.withDom(d, func(o *domObj) error { on = o.managed; return nil })
	return on, err
}

func (in *instance) DomainManagedSaveRemove(d driver.Domain, flags uint32) error {
	return in.updateDom(d, func(o *domObj) error { o.managed = false; return nil })
}
