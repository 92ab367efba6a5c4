package storagepool

import (
	"sort"
	"strings"

	"govirt/driver"
	"govirt/virerr"
)

// LookupStoragePoolByTargetPath is libvirt's storagePoolLookupByTargetPath:
// the first active pool (by name here, libvirt walks its hash table) whose
// target is the sanitized path.
func (m *Manager) LookupStoragePoolByTargetPath(path string) (driver.Pool, error) {
	clean := fileSanitizePath(path)
	m.load()
	m.mu.Lock()
	names := make([]string, 0, len(m.pools))
	for n := range m.pools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p := m.pools[n]; p.active && p.def.target == clean {
			m.mu.Unlock()
			return p.handle(), nil
		}
	}
	m.mu.Unlock()
	if path == clean {
		return driver.Pool{}, errStorage(virerr.ErrNoStoragePool, "no storage pool with matching target path '%s'", path)
	}
	return driver.Pool{}, errStorage(virerr.ErrNoStoragePool, "no storage pool with matching target path '%s' (%s)", path, clean)
}

// fileSanitizePath is virFileSanitizePath: URIs are left alone, a leading
// "//" (but not "///") is kept as POSIX allows, other runs of slashes
// become one and a trailing slash goes.
func fileSanitizePath(path string) string {
	if i := strings.Index(path, "://"); i >= 0 && strings.Index(path, "/") > i {
		return path
	}
	var b strings.Builder
	cur := path
	if strings.HasPrefix(cur, "//") && !strings.HasPrefix(cur, "///") {
		b.WriteString("//")
		cur = cur[2:]
	}
	for len(cur) > 0 {
		if cur[0] != '/' {
			b.WriteByte(cur[0])
			cur = cur[1:]
			continue
		}
		cur = strings.TrimLeft(cur, "/")
		if b.Len() != 0 && cur == "" {
			break
		}
		b.WriteByte('/')
	}
	return b.String()
}
