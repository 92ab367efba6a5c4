package qemu

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"govirt/driver"
	"govirt/virerr"
)

// Kernel same-page merging, as libvirt's virHostMemGetParameters and
// virHostMemSetParameters read and write /sys/kernel/mm/ksm.

const ksmDir = "/sys/kernel/mm/ksm"

// ksmParams are libvirt's parameters in its order: the sysfs file, the
// parameter name, and whether it is a 32-bit (uint) value.
var ksmParams = []struct {
	file, field string
	uint        bool
}{
	{"pages_to_scan", "shm_pages_to_scan", true},
	{"sleep_millisecs", "shm_sleep_millisecs", true},
	{"pages_shared", "shm_pages_shared", false},
	{"pages_sharing", "shm_pages_sharing", false},
	{"pages_unshared", "shm_pages_unshared", false},
	{"pages_volatile", "shm_pages_volatile", false},
	{"full_scans", "shm_full_scans", false},
	{"merge_across_nodes", "shm_merge_across_nodes", true},
}

const vtpStringOkay = 1 << 2

func (c *conn) NodeGetMemoryParameters(flags uint32) ([]driver.TypedParam, error) {
	if flags&^vtpStringOkay != 0 {
		return nil, errFlagsFn(flags&^vtpStringOkay, "virHostMemGetParameters")
	}
	var out []driver.TypedParam
	for _, p := range ksmParams {
		data, err := os.ReadFile(filepath.Join(ksmDir, p.file))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the kernel lacks it: libvirt leaves it out
		}
		if err != nil {
			return nil, errQEMU(virerr.ErrSystemError, "Failed to open file '%s': %v", filepath.Join(ksmDir, p.file), err)
		}
		s := strings.TrimSpace(string(data))
		if p.uint {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, errQEMU(virerr.ErrInternalError, "failed to parse %s", p.file)
			}
			out = append(out, driver.TypedParam{Field: p.field, Value: uint32(v)})
		} else {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, errQEMU(virerr.ErrInternalError, "failed to parse %s", p.file)
			}
			out = append(out, driver.TypedParam{Field: p.field, Value: v})
		}
	}
	return out, nil
}

func (c *conn) NodeSetMemoryParameters(params []driver.TypedParam, flags uint32) error {
	if flags != 0 {
		return errFlagsFn(flags, "virHostMemSetParameters")
	}
	if err := driver.ValidateParams(params, map[string]string{
		"shm_pages_to_scan": "uint", "shm_sleep_millisecs": "uint", "shm_merge_across_nodes": "uint",
	}); err != nil {
		return err
	}
	files := map[string]string{}
	for _, p := range ksmParams {
		files[p.field] = filepath.Join(ksmDir, p.file)
	}
	// virHostMemParametersAreAllSupported: nothing is written unless
	// the kernel has every one.
	for _, p := range params {
		if _, err := os.Stat(files[p.Field]); err != nil {
			return errQEMU(virerr.ErrArgumentUnsupported, "Parameter '%s' is not supported by this kernel", p.Field)
		}
	}
	for _, p := range params {
		v := strconv.FormatUint(uint64(p.Value.(uint32)), 10)
		if err := os.WriteFile(files[p.Field], []byte(v), 0); err != nil {
			return errQEMU(virerr.ErrSystemError, "unable to set %s: %v", p.Field, err)
		}
	}
	return nil
}
