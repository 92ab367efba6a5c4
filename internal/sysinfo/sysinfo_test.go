package sysinfo

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tableBuilder assembles SMBIOS structures: a formatted area (type,
// length and handle filled in) and its strings.
type tableBuilder struct {
	buf    bytes.Buffer
	handle uint16
}

func (t *tableBuilder) add(typ byte, body []byte, strs ...string) {
	h := []byte{typ, byte(4 + len(body)), byte(t.handle), byte(t.handle >> 8)}
	t.handle++
	t.buf.Write(h)
	t.buf.Write(body)
	if len(strs) == 0 {
		t.buf.Write([]byte{0, 0})
		return
	}
	for _, s := range strs {
		t.buf.WriteString(s)
		t.buf.WriteByte(0)
	}
	t.buf.WriteByte(0)
}

func (t *tableBuilder) end() []byte {
	t.add(127, nil)
	return t.buf.Bytes()
}

// entryPoint3 is an SMBIOS 3 entry point for a table of n bytes at
// address addr.
func entryPoint3(major, minor byte, n int, addr uint64) []byte {
	ep := make([]byte, 0x18)
	copy(ep, "_SM3_")
	ep[0x06] = 0x18
	ep[0x07], ep[0x08], ep[0x09] = major, minor, 0
	ep[0x0A] = 1
	binary.LittleEndian.PutUint32(ep[0x0C:], uint32(n))
	binary.LittleEndian.PutUint64(ep[0x10:], addr)
	var s byte
	for _, c := range ep {
		s += c
	}
	ep[0x05] = -s
	return ep
}

// entryPoint2 is an SMBIOS 2.x entry point.
func entryPoint2(major, minor byte, n, num int, addr uint32) []byte {
	ep := make([]byte, 0x1F)
	copy(ep, "_SM_")
	ep[0x05] = 0x1F
	ep[0x06], ep[0x07] = major, minor
	copy(ep[0x10:], "_DMI_")
	binary.LittleEndian.PutUint16(ep[0x16:], uint16(n))
	binary.LittleEndian.PutUint32(ep[0x18:], addr)
	binary.LittleEndian.PutUint16(ep[0x1C:], uint16(num))
	var s byte
	for _, c := range ep[0x10:0x1F] {
		s += c
	}
	ep[0x15] = -s
	s = 0
	for _, c := range ep {
		s += c
	}
	ep[0x04] = -s
	return ep
}

func le16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// modernTable is a server as SMBIOS 3.2 firmware describes it: two
// processors, three memory slots (one empty), OEM strings with a dot.
func modernTable() (tb tableBuilder) {
	// BIOS: vendor, version, segment, date, ROM size, characteristics,
	// extensions, revisions.
	tb.add(0, cat([]byte{1, 2}, le16(0xE800), []byte{3, 0xFF}, make([]byte, 8), []byte{0x03, 0x0D}, []byte{2, 5, 0xFF, 0xFF}, le16(0x20)),
		"Dell Inc.", "2.5.4 ", "01/13/2022")
	uuid := []byte{0x4c, 0x4c, 0x45, 0x44, 0x00, 0x56, 0x10, 0x80, 0x80, 0x38, 0xb4, 0xc0, 0x4f, 0x39, 0x36, 0x32}
	tb.add(1, cat([]byte{1, 2, 3, 4}, uuid, []byte{6, 5, 6}), "Dell Inc.", "PowerEdge R640", "Not Specified ", "ABC<12&3>", "SKU=NotProvided;ModelName=PowerEdge R640", "PowerEdge")
	tb.add(2, cat([]byte{1, 2, 3, 4, 5, 0x09, 6}, le16(3), []byte{0x0A, 0}), "Dell Inc.", "0H28RR", "A02", ".7X7B3J2.CNCMS0018M00M2.", "   ", "Slot 'A'")
	tb.add(3, cat([]byte{1, 0x17, 2, 3, 4, 3, 3, 3, 3}, le32(0), []byte{1, 2, 2, 3, 0x84, 1, 4, 0x0A, 2, 2, 5}),
		"Dell Inc.", "Version 1", "7X7B3J2", "Asset", "Chassis SKU")
	for _, sock := range []string{"CPU1", "CPU2"} {
		tb.add(4, cat([]byte{1, 3, 0xB3, 2}, le32(0x00050654), le32(0xBFEBFBFF), []byte{3, 0x80 | 18}, le16(100), le16(4000), le16(2300), []byte{0x41, 0x3F},
			le16(0x100), le16(0x101), le16(0x102), []byte{4, 5, 6, 20, 20, 40}, le16(0xEC), le16(0xB3), le16(20), le16(20), le16(40)),
			sock, "Intel", "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", "Not Specified", "Asset", "Not Specified")
	}
	tb.add(11, []byte{3}, "Dell System", "5[0000]", "14[1]. 26[0]")
	dimm := func(size uint16, ext uint32, speed uint16) []byte {
		return cat(le16(0x1000), le16(0xFFFE), le16(72), le16(64), le16(size), []byte{0x09, 1, 1, 2, 0x1A}, le16(0x0080), le16(speed),
			[]byte{3, 4, 5, 6, 2}, le32(ext), le16(speed), le16(1200), le16(1200), le16(1200))
	}
	tb.add(17, dimm(16384, 0, 2933), "A1", "Bank 1", "00AD063200AD", "40D8E1A3", "01193151", "HMA82GR7CJR8N-WM    ")
	tb.add(17, dimm(0, 0, 0), "A2", "Bank 2")
	tb.add(17, dimm(0x7FFF, 32768, 0xFFFF), "A3", "Bank 3", "Samsung", "123", "Tag", "M393")
	return tb
}

// oldTable is SMBIOS 2.3 firmware: short structures, so libvirt takes
// labels the system section lacks from later sections.
func oldTable() (tb tableBuilder) {
	tb.add(0, cat([]byte{1, 2}, le16(0xF000), []byte{3, 0x0F}, make([]byte, 8), []byte{0x80}), "Phoenix", "6.00 PG", "12/31/2008")
	tb.add(1, []byte{1, 2, 0, 3}, "ACME", "Box", "SER1")
	tb.add(3, []byte{1, 0x03, 0, 0, 0}, "ACME")
	tb.add(4, cat([]byte{1, 3, 0xBE, 2}, le32(0x00000F41), le32(0x178BFBFF), []byte{0, 0}, le16(0), le16(2600), le16(2600), []byte{0x41, 0x0F}),
		"Socket 939", "AMD", "AMD Athlon(tm) 64 Processor 3800+")
	tb.add(17, cat(le16(0x1000), le16(0xFFFE), le16(64), le16(64), le16(1024), []byte{0x09, 0, 1, 2, 0x12}, le16(0x0080)), "DIMM0", "BANK0")
	return tb
}

func dumpFile(t *testing.T, ep, table []byte) string {
	p := filepath.Join(t.TempDir(), "dump.bin")
	if err := os.WriteFile(p, cat(ep, make([]byte, 32-len(ep)), table), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAgainstDmidecode checks the text against dmidecode itself (read
// from a dump file as `dmidecode --dump-bin` writes one): every line
// rendered is one dmidecode prints, in its order, and libvirt's search
// finds the same values in both.
func TestAgainstDmidecode(t *testing.T) {
	dmidecode, err := exec.LookPath("dmidecode")
	if err != nil {
		t.Skip("dmidecode not installed")
	}
	for _, c := range []struct {
		name  string
		table []byte
		ep    func(n int) []byte
	}{
		{"smbios3", func() []byte { tb := modernTable(); return tb.end() }(), func(n int) []byte { return entryPoint3(3, 2, n, 32) }},
		{"smbios23", func() []byte { tb := oldTable(); return tb.end() }(), func(n int) []byte { return entryPoint2(2, 3, n, 6, 32) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ep := c.ep(len(c.table))
			out, err := exec.Command(dmidecode, "-q", "-t", "0,1,2,3,4,11,17", "--from-dump", dumpFile(t, ep, c.table)).Output()
			if err != nil {
				t.Fatalf("dmidecode: %v", err)
			}
			real := string(out)
			mine, err := DMIText(ep, c.table)
			if err != nil {
				t.Fatal(err)
			}
			rest := real
			for _, l := range strings.Split(strings.TrimRight(mine, "\n"), "\n") {
				if l == "" {
					continue
				}
				i := strings.Index(rest, l+"\n")
				if i < 0 {
					t.Fatalf("line %q is not in dmidecode's output (in order):\n%s", l, real)
				}
				rest = rest[i+len(l)+1:]
			}
			want, err := ParseDMIText(real)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseDMIText(mine)
			if err != nil {
				t.Fatal(err)
			}
			if got.Format() != want.Format() {
				t.Errorf("from govirt's text:\n%s\nfrom dmidecode's:\n%s", got.Format(), want.Format())
			}
		})
	}
}

// TestFormat pins the XML libvirt writes for the modern table.
func TestFormat(t *testing.T) {
	tb := modernTable()
	table := tb.end()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "smbios_entry_point"), entryPoint3(3, 2, len(table), 0x7f000000), 0o644)
	os.WriteFile(filepath.Join(dir, "DMI"), table, 0o644)
	d, err := ReadHost(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := `<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>Dell Inc.</entry>
    <entry name='version'>2.5.4</entry>
    <entry name='date'>01/13/2022</entry>
    <entry name='release'>2.5</entry>
  </bios>
  <system>
    <entry name='manufacturer'>Dell Inc.</entry>
    <entry name='product'>PowerEdge R640</entry>
    <entry name='version'>Not Specified</entry>
    <entry name='serial'>ABC&lt;12&amp;3&gt;</entry>
    <entry name='uuid'>44454c4c-5600-8010-8038-b4c04f393632</entry>
    <entry name='sku'>SKU=NotProvided;ModelName=PowerEdge R640</entry>
    <entry name='family'>PowerEdge</entry>
  </system>
  <baseBoard>
    <entry name='manufacturer'>Dell Inc.</entry>
    <entry name='product'>0H28RR</entry>
    <entry name='version'>A02</entry>
    <entry name='serial'>.7X7B3J2.CNCMS0018M00M2.</entry>
    <entry name='location'>Slot &apos;A&apos;</entry>
  </baseBoard>
  <chassis>
    <entry name='manufacturer'>Dell Inc.</entry>
    <entry name='version'>Version 1</entry>
    <entry name='serial'>7X7B3J2</entry>
    <entry name='asset'>Asset</entry>
    <entry name='sku'>Chassis SKU</entry>
  </chassis>
  <processor>
    <entry name='socket_destination'>CPU1</entry>
    <entry name='type'>Central Processor</entry>
    <entry name='family'>Xeon</entry>
    <entry name='manufacturer'>Intel</entry>
    <entry name='signature'>Type 0, Family 6, Model 85, Stepping 4</entry>
    <entry name='version'>Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz</entry>
    <entry name='external_clock'>100 MHz</entry>
    <entry name='max_speed'>4000 MHz</entry>
    <entry name='status'>Populated, Enabled</entry>
    <entry name='serial_number'>Not Specified</entry>
    <entry name='part_number'>Not Specified</entry>
  </processor>
  <processor>
    <entry name='socket_destination'>CPU2</entry>
    <entry name='type'>Central Processor</entry>
    <entry name='family'>Xeon</entry>
    <entry name='manufacturer'>Intel</entry>
    <entry name='signature'>Type 0, Family 6, Model 85, Stepping 4</entry>
    <entry name='version'>Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz</entry>
    <entry name='external_clock'>100 MHz</entry>
    <entry name='max_speed'>4000 MHz</entry>
    <entry name='status'>Populated, Enabled</entry>
    <entry name='serial_number'>Not Specified</entry>
    <entry name='part_number'>Not Specified</entry>
  </processor>
  <memory_device>
    <entry name='size'>16 GB</entry>
    <entry name='form_factor'>DIMM</entry>
    <entry name='locator'>A1</entry>
    <entry name='bank_locator'>Bank 1</entry>
    <entry name='type'>DDR4</entry>
    <entry name='type_detail'>Synchronous</entry>
    <entry name='speed'>2933 MT/s</entry>
    <entry name='manufacturer'>00AD063200AD</entry>
    <entry name='serial_number'>40D8E1A3</entry>
    <entry name='part_number'>HMA82GR7CJR8N-WM</entry>
  </memory_device>
  <memory_device>
    <entry name='size'>32 GB</entry>
    <entry name='form_factor'>DIMM</entry>
    <entry name='locator'>A3</entry>
    <entry name='bank_locator'>Bank 3</entry>
    <entry name='type'>DDR4</entry>
    <entry name='type_detail'>Synchronous</entry>
    <entry name='speed'>Unknown</entry>
    <entry name='manufacturer'>Samsung</entry>
    <entry name='serial_number'>123</entry>
    <entry name='part_number'>M393</entry>
  </memory_device>
  <oemStrings>
    <entry>Dell System</entry>
    <entry>5[0000]</entry>
    <entry>14[1]. 26[0]
</entry>
  </oemStrings>
</sysinfo>
`
	if got := d.Format(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestNoTables(t *testing.T) {
	if _, err := ReadHost(t.TempDir()); err != ErrNoSMBIOS {
		t.Errorf("ReadHost of an empty directory: %v", err)
	}
	bad := entryPoint3(3, 2, 10, 0)
	bad[0x05]++
	if _, err := DMIText(bad, nil); err != ErrNoSMBIOS {
		t.Errorf("bad checksum: %v", err)
	}
}
