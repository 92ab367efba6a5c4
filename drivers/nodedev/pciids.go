package nodedev

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strconv"
)

// pciIDsPaths are where libpciaccess (which libvirt asks for the names,
// pci_get_strings) finds the PCI ID database on Debian.
var pciIDsPaths = []string{"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/misc/pci.ids.gz"}

// pciIDs holds vendor and device names of pci.ids.
type pciIDs struct {
	vendors map[uint16]string
	devices map[uint32]string // vendor<<16 | device
}

// maxPCIIDs bounds the database read (Debian's is 1.3 MB).
const maxPCIIDs = 32 << 20

func (m *Manager) loadPCIIDs() *pciIDs {
	m.idsOnce.Do(func() {
		m.ids = &pciIDs{vendors: map[uint16]string{}, devices: map[uint32]string{}}
		for _, p := range pciIDsPaths {
			fh, err := os.Open(m.fs.path(p))
			if err != nil {
				continue
			}
			var r io.Reader = fh
			if len(p) > 3 && p[len(p)-3:] == ".gz" {
				gz, err := gzip.NewReader(fh)
				if err != nil {
					fh.Close()
					continue
				}
				r = gz
			}
			data, _ := io.ReadAll(io.LimitReader(r, maxPCIIDs))
			fh.Close()
			m.ids = parsePCIIDs(data)
			return
		}
	})
	return m.ids
}

// pciNames is udevTranslatePCIIds: the vendor's name and the device's
// ("" when the database lacks them).
func (m *Manager) pciNames(vendor, product uint) (string, string) {
	ids := m.loadPCIIDs()
	return ids.vendors[uint16(vendor)], ids.devices[uint32(vendor)<<16|uint32(uint16(product))]
}

// parsePCIIDs reads pci.ids: "VVVV  name" starts a vendor, a tab and
// "DDDD  name" is one of its devices, two tabs a subsystem (ignored);
// '#' lines are comments and the class section ("C ...") ends the
// vendor list.
func parsePCIIDs(data []byte) *pciIDs {
	ids := &pciIDs{vendors: map[uint16]string{}, devices: map[uint32]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	vendor := -1
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		tabs := 0
		for tabs < len(line) && line[tabs] == '\t' {
			tabs++
		}
		rest := line[tabs:]
		if len(rest) < 6 {
			continue
		}
		id, err := strconv.ParseUint(rest[:4], 16, 16)
		if err != nil || rest[4] != ' ' {
			if tabs == 0 {
				vendor = -1
			}
			continue
		}
		name := rest[4:]
		for len(name) > 0 && name[0] == ' ' {
			name = name[1:]
		}
		switch tabs {
		case 0:
			vendor = int(id)
			if _, dup := ids.vendors[uint16(id)]; !dup {
				ids.vendors[uint16(id)] = name
			}
		case 1:
			if vendor >= 0 {
				k := uint32(vendor)<<16 | uint32(id)
				if _, dup := ids.devices[k]; !dup {
					ids.devices[k] = name
				}
			}
		}
	}
	return ids
}
