package qemu

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"govirt/uuid"
)

// The host UUID of the capabilities, as libvirt's virGetHostUUID: the
// daemon's host_uuid (or /etc/machine-id with host_uuid_source =
// "machine-id", resolved by ResolveHostUUID at start), else the SMBIOS
// system UUID, else, when the machine has none or an invalid one (all
// bytes alike), a random UUID for the daemon's lifetime.

var (
	smbiosOnce sync.Once
	smbiosUUID uuid.UUID
)

// dmiUUIDPaths are virGetHostUUID's sources, in its order.
var dmiUUIDPaths = []string{"/sys/devices/virtual/dmi/id/product_uuid", "/sys/class/dmi/id/product_uuid"}

// uuidValid is virUUIDIsValid: not every byte the same.
func uuidValid(u uuid.UUID) bool {
	for _, b := range u[1:] {
		if b != u[0] {
			return true
		}
	}
	return false
}

func (d *Driver) hostUUID() uuid.UUID {
	if uuidValid(d.cfg.HostUUID) {
		return d.cfg.HostUUID
	}
	smbiosOnce.Do(func() {
		for _, p := range dmiUUIDPaths {
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if u, err := uuid.Parse(strings.TrimSpace(string(data))); err == nil && uuidValid(u) {
				smbiosUUID = u
				return
			}
			break
		}
		smbiosUUID = uuid.New()
	})
	return smbiosUUID
}

// ResolveHostUUID is libvirtd's daemonSetupHostUUID: hostUUID (the
// host_uuid key) wins; source "" or "smbios" leaves the SMBIOS lookup for
// later (zero UUID), "machine-id" reads /etc/machine-id (32 hex digits,
// which libvirt's UUID parser takes without dashes).
func ResolveHostUUID(hostUUID, source string) (uuid.UUID, error) {
	s := hostUUID
	switch {
	case s != "":
	case source == "" || source == "smbios":
		return uuid.UUID{}, nil
	case source == "machine-id":
		data, err := os.ReadFile("/etc/machine-id")
		if err != nil {
			return uuid.UUID{}, fmt.Errorf("Can't read /etc/machine-id")
		}
		s = strings.TrimSpace(string(data))
	default:
		return uuid.UUID{}, fmt.Errorf("invalid UUID source: %s", source)
	}
	u, err := parseHostUUID(s)
	if err != nil || !uuidValid(u) {
		return uuid.UUID{}, fmt.Errorf("invalid host UUID: %s", s)
	}
	return u, nil
}

// parseHostUUID accepts what virUUIDParse accepts: 32 hex digits, with
// dashes and spaces anywhere between pairs ignored.
func parseHostUUID(s string) (uuid.UUID, error) {
	var u uuid.UUID
	s = strings.TrimLeft(s, " ")
	i := 0
	for j := 0; j < len(s) && i < 16; {
		c := s[j]
		if c == '-' || c == ' ' {
			j++
			continue
		}
		if j+1 >= len(s) {
			return u, fmt.Errorf("short")
		}
		var b byte
		if _, err := fmt.Sscanf(s[j:j+2], "%02x", &b); err != nil {
			return u, err
		}
		u[i] = b
		i++
		j += 2
	}
	if i != 16 {
		return u, fmt.Errorf("short")
	}
	return u, nil
}
