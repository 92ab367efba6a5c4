// Package atomicfile writes files so that a crash at any moment leaves
// either the old content or the new, never a torn mix: write a temp file
// in the same directory, fsync it, rename it over the target, fsync the
// directory.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// tempMark is what Write puts between a file's name and the random part
// of its temporary file's name: ".NAME.tmp-123456789".
const tempMark = ".tmp-"

// Write replaces path with data.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, [][]byte{data}, perm, true)
}

// WriteVolatile replaces path with data as Write does, without the
// fsyncs: for files that only describe what runs now (a guest's status:
// after a host crash its QEMU is gone too, and libvirt keeps the same
// files on a tmpfs), which must never be seen torn by the next daemon
// after a crash of this one (the rename gives that; the page cache
// outlives the process) but need not survive a host crash. An fsync per
// write cost every guest start tens to hundreds of milliseconds on a
// busy disk.
// The content is the concatenation of parts.
func WriteVolatile(path string, perm os.FileMode, parts ...[]byte) error {
	return write(path, parts, perm, false)
}

func write(path string, parts [][]byte, perm os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempMark+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	for _, data := range parts {
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// Remove deletes path and makes the deletion durable.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// RemoveVolatile deletes path, a file WriteVolatile wrote, without
// syncing its directory; a missing file is no error.
func RemoveVolatile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// IsTemp reports whether name is one of Write's temporary files:
// ".NAME.tmp-DIGITS", DIGITS being what os.CreateTemp puts for its "*".
func IsTemp(name string) bool {
	i := strings.LastIndex(name, tempMark)
	if !strings.HasPrefix(name, ".") || i < 2 {
		return false
	}
	digits := name[i+len(tempMark):]
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// CleanTemp removes the temporary files a Write interrupted by a crash
// (or a SIGKILL) left in dir; they are never renamed into place and
// nothing else would ever remove them. A driver calls it at start for
// every directory it writes with Write, before it writes there. Only
// regular files named as Write names them go; a missing dir is no error.
// It returns the names removed.
func CleanTemp(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var firstErr error
	for _, e := range ents {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, firstErr
}
