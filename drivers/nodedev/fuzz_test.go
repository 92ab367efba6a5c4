package nodedev

import (
	"strings"
	"testing"
)

// FuzzParsers feeds the parsers of what the host gives (udevd's
// database, pci.ids, sysfs numbers and PCI addresses, configuration
// space) arbitrary bytes: none may panic or loop.
func FuzzParsers(f *testing.F) {
	f.Add([]byte("E:ID_TYPE=cd\nS:cdrom\nI:1\n"))
	f.Add([]byte("8086  Intel Corporation\n\t10d3  82574L\n\t\t8086 a01f  x\nC 02  Net\n"))
	f.Add([]byte("0000:00:1f.0"))
	f.Add([]byte(pciConfig(256, 0, true)))
	f.Add([]byte("-1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		props, links := parseUdevDB(data)
		for k := range props {
			if k == "" || strings.Contains(k, "\n") {
				t.Fatalf("bad key %q", k)
			}
		}
		_ = links
		ids := parsePCIIDs(data)
		for _, v := range ids.vendors {
			if strings.Contains(v, "\n") {
				t.Fatalf("vendor name with newline")
			}
		}
		s := string(data)
		parseUint(s, 0, 32)
		parseUint(s, 16, 64)
		parseInt(s, 16)
		parsePCIAddr(s)
		findPCICap(data, pciCapIDExp)
		hasFLR(data)
		if pos, ok := findPCICap(data, pciCapIDExp); ok && (pos < pciConfHeaderLen || pos >= len(data)) {
			t.Fatalf("capability at %d outside the config space", pos)
		}
		generateName("net", s, s)
	})
}
