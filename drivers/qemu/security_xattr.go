package qemu

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The owner a file had before a guest was given it is remembered in the
// file's extended attributes, under libvirt's own names and formats
// (src/security/security_util.c), so that libvirtd and govirtd agree on
// a file either of them labelled:
//
//	trusted.libvirt.security.dac            "+UID:+GID", the original owner
//	trusted.libvirt.security.ref_dac        how many guests use the file
//	trusted.libvirt.security.timestamp_dac  the host's boot time when set
//
// Attributes from an earlier boot are stale (the guests that held the
// file are gone) and are dropped, as virSecurityValidateTimestamp does.
const (
	xattrOwner = "trusted.libvirt.security.dac"
	xattrRef   = "trusted.libvirt.security.ref_dac"
	xattrStamp = "trusted.libvirt.security.timestamp_dac"
)

// xattrMu serialises the read-modify-write of reference counts within
// this daemon (libvirt holds a metadata lock on the file for the same).
var xattrMu sync.Mutex

// errNoXattr means the file system keeps no trusted attributes: the
// owner is not remembered and a restore falls back to root.
var errNoXattr = errors.New("extended attributes not supported")

func getXattr(path, name string) (string, error) {
	buf := make([]byte, 256)
	n, err := syscall.Getxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// bootTime is the host's boot time in seconds (btime of /proc/stat).
func bootTime() string {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return "0"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			return strings.TrimSpace(v)
		}
	}
	return "0"
}

func unsupportedXattr(err error) bool {
	return errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.ENOSYS)
}

// dropStale removes the remembered owner of path when it was written in
// an earlier boot; it reports whether the record is (still) valid.
func dropStale(path string) bool {
	ts, err := getXattr(path, xattrStamp)
	if err == nil && ts == bootTime() {
		return true
	}
	for _, n := range []string{xattrRef, xattrOwner, xattrStamp} {
		_ = syscall.Removexattr(path, n)
	}
	return false
}

// rememberOwner records path's current owner (first user) or counts one
// more user; it returns the new count (virSecuritySetRememberedLabel).
func rememberOwner(path string, uid, gid int) (int, error) {
	xattrMu.Lock()
	defer xattrMu.Unlock()
	val, err := getXattr(path, xattrRef)
	switch {
	case unsupportedXattr(err):
		return 0, errNoXattr
	case err != nil && !errors.Is(err, syscall.ENODATA):
		return 0, fmt.Errorf("Unable to get XATTR %s on %s: %v", xattrRef, path, err)
	}
	count := 0
	if err == nil && dropStale(path) {
		if count, err = strconv.Atoi(val); err != nil {
			return 0, fmt.Errorf("malformed refcount %s on %s", val, path)
		}
	}
	count++
	if count == 1 {
		if err := syscall.Setxattr(path, xattrOwner, []byte(ownerLabel(uid, gid)), 0); err != nil {
			if unsupportedXattr(err) {
				return 0, errNoXattr
			}
			return 0, fmt.Errorf("Unable to set XATTR %s on %s: %v", xattrOwner, path, err)
		}
		if err := syscall.Setxattr(path, xattrStamp, []byte(bootTime()), 0); err != nil {
			return 0, fmt.Errorf("Unable to set XATTR %s on %s: %v", xattrStamp, path, err)
		}
	}
	if err := syscall.Setxattr(path, xattrRef, []byte(strconv.Itoa(count)), 0); err != nil {
		return 0, fmt.Errorf("Unable to set XATTR %s on %s: %v", xattrRef, path, err)
	}
	return count, nil
}

// recallOwner counts one user less; when it was the last it returns the
// remembered owner and removes the record (virSecurityGetRememberedLabel).
// inUse is true while other guests still hold the file.
func recallOwner(path string) (uid, gid int, inUse bool, err error) {
	xattrMu.Lock()
	defer xattrMu.Unlock()
	val, err := getXattr(path, xattrRef)
	if err != nil {
		if unsupportedXattr(err) || errors.Is(err, syscall.ENODATA) {
			return 0, 0, false, errNoXattr
		}
		return 0, 0, false, fmt.Errorf("Unable to get XATTR %s on %s: %v", xattrRef, path, err)
	}
	if !dropStale(path) {
		return 0, 0, false, errNoXattr
	}
	count, err := strconv.Atoi(val)
	if err != nil {
		return 0, 0, false, fmt.Errorf("malformed refcount %s on %s", val, path)
	}
	count--
	if count > 0 {
		if err := syscall.Setxattr(path, xattrRef, []byte(strconv.Itoa(count)), 0); err != nil {
			return 0, 0, false, err
		}
		return 0, 0, true, nil
	}
	owner, err := getXattr(path, xattrOwner)
	for _, n := range []string{xattrRef, xattrOwner, xattrStamp} {
		_ = syscall.Removexattr(path, n)
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("Unable to get XATTR %s on %s: %v", xattrOwner, path, err)
	}
	uid, gid, err = parseOwnerLabel(owner)
	return uid, gid, false, err
}
