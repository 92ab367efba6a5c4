package test

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"

	"govirt/driver"
	"govirt/virerr"
)

// Calls of libvirt's test driver that answer with fixed data: block info,
// storage pool source discovery and the screenshot.

var (
	_ driver.DomainBlockInfoer  = (*conn)(nil)
	_ driver.StoragePoolSources = (*conn)(nil)
	_ driver.DomainScreenshoter = (*conn)(nil)
)

// DomainGetBlockInfo is testDomainGetBlockInfo: any disk with a source
// reports the same made-up sizes, active or not.
func (in *instance) DomainGetBlockInfo(d driver.Domain, disk string, flags uint32) (driver.BlockInfo, error) {
	if err := checkFlags(flags, 0, "testDomainGetBlockInfo"); err != nil {
		return driver.BlockInfo{}, err
	}
	var info driver.BlockInfo
	err := in.withDom(d, func(o *domObj) error {
		var found bool
		for _, dk := range o.def.Devices.Disks {
			// virDomainDiskByName: the target, or the one disk with that
			// source path.
			if dk.TargetDev == disk || (strings.HasPrefix(disk, "/") && dk.Source.Path == disk) {
				found = true
				if dk.Source.Path == "" && dk.Source.Type != "network" && dk.Source.Type != "volume" {
					return errTest(virerr.ErrInvalidArg, "disk '%s' does not currently have a source assigned", disk)
				}
				break
			}
		}
		if !found {
			return errTest(virerr.ErrInvalidArg, "invalid path %s not assigned to domain", disk)
		}
		info = driver.BlockInfo{Capacity: 1099506450432, Allocation: 1099511627776, Physical: 1099511627776}
		return nil
	})
	return info, err
}

// The test driver's canned discovery answers.
const (
	poolSourcesLogical = "<sources>\n  <source>\n    <device path='/dev/sda20'/>\n    <name>testvg1</name>\n" +
		"    <format type='lvm2'/>\n  </source>\n  <source>\n    <device path='/dev/sda21'/>\n" +
		"    <name>testvg2</name>\n    <format type='lvm2'/>\n  </source>\n</sources>\n"
	poolSourcesNetFS = "<sources>\n  <source>\n    <host name='%s'/>\n    <dir path='/testshare'/>\n" +
		"    <format type='nfs'/>\n  </source>\n</sources>\n"
)

// FindStoragePoolSources is testConnectFindStoragePoolSources.
func (in *instance) FindStoragePoolSources(typ, srcSpec string, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testConnectFindStoragePoolSources"); err != nil {
		return "", err
	}
	// libvirt tests virStoragePoolTypeFromString's result for 0, which
	// is "dir", not an unknown type (-1): "dir" is the one refused as
	// unknown, and a name it does not know reaches the default case.
	if typ == "dir" {
		return "", errInternal("unknown storage pool type %s", typ)
	}
	var host string
	if srcSpec != "" && !knownPoolType(typ) {
		// virStoragePoolDefParseSourceString with type -1.
		return "", virerr.New(virerr.FromStorage, virerr.ErrInternalError, "%s", "missing backend for pool type -1")
	}
	if srcSpec != "" {
		var src struct {
			Hosts []struct {
				Name string `xml:"name,attr"`
			} `xml:"host"`
		}
		if err := xml.Unmarshal([]byte(srcSpec), &src); err != nil {
			return "", virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "(storage_source_specification):1: "+err.Error())
		}
		if len(src.Hosts) > 0 {
			host = src.Hosts[0].Name
		}
	}
	switch typ {
	case "logical":
		return poolSourcesLogical, nil
	case "netfs":
		if host == "" {
			return "", errTest(virerr.ErrInvalidArg, "hostname must be specified for netfs sources")
		}
		return fmt.Sprintf(poolSourcesNetFS, host), nil
	}
	return "", errTest(virerr.ErrNoSupport, "pool type '%s' does not support source discovery", typ)
}

// testScreenshot is the image libvirt's test driver streams; it ships
// with libvirt's data files.
const testScreenshot = "/usr/share/libvirt/test-screenshot.png"

// DomainScreenshot is testDomainScreenshot: any domain, running or not,
// gets libvirt's test image.
func (in *instance) DomainScreenshot(d driver.Domain, screen uint32, flags uint32) (string, io.ReadCloser, error) {
	if err := checkFlags(flags, 0, "testDomainScreenshot"); err != nil {
		return "", nil, err
	}
	// libvirt does not look the domain up: its daemon makes the handle
	// from the argument without a lookup, so any name gets the image.
	f, err := os.Open(testScreenshot)
	if err != nil {
		return "", nil, virerr.New(virerr.FromNone, virerr.ErrSystemError, "Unable to open %s: %v", testScreenshot, err)
	}
	return "image/png", f, nil
}

func knownPoolType(typ string) bool {
	for _, t := range poolTypeBits {
		if t == typ {
			return true
		}
	}
	return false
}
