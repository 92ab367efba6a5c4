package conf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// scaleFor returns the byte multiplier of a libvirt unit suffix: b/bytes
// are 1, a bare letter or "XiB" is a power of 1024 and "XB" a power of
// 1000, the same table virScaleInteger uses.
func scaleFor(unit string) (uint64, error) {
	u := strings.ToLower(unit)
	switch u {
	case "b", "byte", "bytes":
		return 1, nil
	}
	var base uint64
	switch {
	case len(u) == 1 || u[1:] == "ib":
		base = 1024
	case u[1:] == "b":
		base = 1000
	default:
		return 0, fmt.Errorf("unknown suffix '%s'", unit)
	}
	pow := strings.IndexByte("kmgtpe", u[0])
	if pow < 0 {
		return 0, fmt.Errorf("unknown suffix '%s'", unit)
	}
	scale := uint64(1)
	for i := 0; i <= pow; i++ {
		scale *= base
	}
	return scale, nil
}

// scaledBytes converts value+unit to bytes, defUnit applying when unit is
// empty.
func scaledBytes(value, unit, defUnit string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value")
	}
	if unit == "" {
		unit = defUnit
	}
	s, err := scaleFor(unit)
	if err != nil {
		return 0, err
	}
	if v != 0 && v > math.MaxUint64/s {
		return 0, fmt.Errorf("value too large: %d%s", v, unit)
	}
	return v * s, nil
}

// kibCeil rounds bytes up to whole KiB, as libvirt stores memory sizes.
func kibCeil(b uint64) uint64 { return b/1024 + min(b%1024, 1) }

// ScaledBytes is value in unit (defUnit when unit is empty) in bytes, with
// libvirt's unit table; for drivers reading sizes from the element tree.
func ScaledBytes(value, unit, defUnit string) (uint64, error) {
	return scaledBytes(value, unit, defUnit)
}
