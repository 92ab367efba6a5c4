// Package safepath builds file paths from names clients choose (domain,
// network, pool, volume and snapshot names, UUID strings). libvirt refuses
// '/' in most names but accepts "." and "..", and a path built by joining
// such a name to a directory would leave it: a domain named ".." once made
// destroy remove the whole run directory. Every path the drivers build
// from a client's name goes through Join, which refuses anything that is
// not one plain path component.
package safepath

import (
	"strings"

	"govirt/virerr"
)

// Plain reports whether elem names an entry of a directory and nothing
// else: not empty, not "." or "..", without '/' or NUL.
func Plain(elem string) bool {
	return elem != "" && elem != "." && elem != ".." && !strings.ContainsAny(elem, "/\x00")
}

// Join returns dir/elem, or an error when elem is not Plain. The suffix
// is appended before the check, so "..", given ".xml", is the harmless
// file "...xml" while a bare ".." is refused.
func Join(dir, elem, suffix string) (string, error) {
	name := elem + suffix
	if !Plain(name) {
		return "", virerr.New(virerr.FromNone, virerr.ErrInvalidArg,
			"name '%s' cannot be used as a file name in '%s'", elem, dir)
	}
	return strings.TrimSuffix(dir, "/") + "/" + name, nil
}
