package command

// ParseCPUSet parses libvirt's bitmap syntax ("0-3,^2,5") into sorted CPU
// numbers, with libvirt's "Failed to parse bitmap" error.
func ParseCPUSet(s string) ([]int, error) { return parseBitmap(s) }

// FormatCPUSet writes CPU numbers in libvirt's bitmap syntax ("0-3,5").
func FormatCPUSet(set []int) string { return formatBitmap(set) }
