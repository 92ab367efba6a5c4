package storagepool

import (
	"reflect"
	"strings"
	"testing"
)

// Reports as LVM 2.03.16 prints them for the options libvirt (and govirt)
// pass. vgs and pvs were recorded on a 64 MiB loop device; lvs was
// written by hand in the same layout (two-space indent, no suffix), since
// the recording machine had no device-mapper to create volumes with.
const (
	recordedVGS = "  62914560:62914560\n"
	recordedPVS = "  /dev/loop0 gvparse\n  /dev/loop1        \n"
	sampleLVS   = "" +
		"  root##06UgP5-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky#/dev/sda2(0)#linear#1#5234491392#4194304#5234491392#-wi-ao----\n" +
		"  data##3pg3he-mQsA-5Sui-h0i6-HNmc-Cz7W-QSndcR#/dev/sdb(0)#linear#1#1073741824#4194304#2147483648#-wi-a-----\n" +
		"  data##3pg3he-mQsA-5Sui-h0i6-HNmc-Cz7W-QSndcR#/dev/sdc(0)#linear#1#1073741824#4194304#2147483648#-wi-a-----\n" +
		"  snap#data#UB5hFw-kmlm-LSoX-EI1t-ioVd-h7GL-M0W8Ht#/dev/sdb(256)#linear#1#104857600#4194304#104857600#swi-a-s---\n" +
		"  sparse#[sparse_vorigin]#oHviCK-8Ik0-paqS-V20c-nkhY-Bm1e-zgzU0M#/dev/sdb(281)#linear#1#4194304#4194304#4194304#swi-a-s---\n" +
		"  off##fSLSZH-zAS2-yAIb-n4mV-Al9u-HA3V-oo9K1B#/dev/sdb(300)#linear#1#4194304#4194304#4194304#-wi-------\n" +
		"  tp##kVdR1y-cW4w-3cgY-Fm2z-bU6s-Yq4e-9cBk0P#tp_tdata(0)#thin-pool#1#8388608#4194304#8388608#twi-aotz--\n" +
		"  stripes##Qx1aFb-2Zc3-Xy9k-Lm0n-Op7q-Rs6t-Uv5wXy#/dev/sdc(10240),/dev/sdd(0)#striped#2#42949672960#4194304#42949672960#-wi-a-----#\n"
)

func TestParseVGS(t *testing.T) {
	sz, found, err := parseVGS(recordedVGS)
	if err != nil || !found || sz != (vgSizes{capacity: 62914560, free: 62914560}) {
		t.Fatalf("recorded: %+v %v %v", sz, found, err)
	}
	// SLES10 prints a trailing separator; the last line wins; noise is skipped.
	sz, found, err = parseVGS("  WARNING: something\n  100:40:\n  200:50\n")
	if err != nil || !found || sz != (vgSizes{capacity: 200, free: 50}) {
		t.Fatalf("trailing: %+v %v %v", sz, found, err)
	}
	if _, found, err := parseVGS(""); found || err != nil {
		t.Fatalf("empty: %v %v", found, err)
	}
	if _, _, err := parseVGS("  1:2:3\n"); err == nil || !strings.Contains(err.Error(), "malformed vgs output") {
		t.Fatalf("three fields: %v", err)
	}
	if _, _, err := parseVGS("  1:99999999999999999999999\n"); err == nil {
		t.Fatalf("overflow accepted")
	}
}

func TestParsePVS(t *testing.T) {
	got := parsePVS(recordedPVS)
	want := []pvSource{{vg: "gvparse", devices: []string{"/dev/loop0"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("recorded: %+v", got)
	}
	got = parsePVS("  /dev/sdb vg1\n  /dev/sdc vg0\n  /dev/sdd vg1\npvs  /dev/sde vg2\n")
	want = []pvSource{{"vg1", []string{"/dev/sdb", "/dev/sdd"}}, {"vg0", []string{"/dev/sdc"}}, {"vg2", []string{"/dev/sde"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("grouping: %+v", got)
	}
}

func TestParseLVS(t *testing.T) {
	lvs, err := parseLVS(sampleLVS)
	if err != nil {
		t.Fatal(err)
	}
	const ext = 4194304
	want := []*lvInfo{
		{name: "root", uuid: "06UgP5-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky", size: 5234491392,
			extents: []extent{{"/dev/sda2", 0, 5234491392}}},
		{name: "data", uuid: "3pg3he-mQsA-5Sui-h0i6-HNmc-Cz7W-QSndcR", size: 2147483648,
			extents: []extent{{"/dev/sdb", 0, 1073741824}, {"/dev/sdc", 0, 1073741824}}},
		{name: "snap", uuid: "UB5hFw-kmlm-LSoX-EI1t-ioVd-h7GL-M0W8Ht", origin: "data", sparse: true, size: 104857600,
			extents: []extent{{"/dev/sdb", 256 * ext, 256*ext + 104857600}}},
		{name: "sparse", uuid: "oHviCK-8Ik0-paqS-V20c-nkhY-Bm1e-zgzU0M", sparse: true, size: 4194304,
			extents: []extent{{"/dev/sdb", 281 * ext, 282 * ext}}},
		{name: "stripes", uuid: "Qx1aFb-2Zc3-Xy9k-Lm0n-Op7q-Rs6t-Uv5wXy", size: 42949672960,
			extents: []extent{{"/dev/sdc", 10240 * ext, 10240*ext + 42949672960}, {"/dev/sdd", 0, 42949672960}}},
	}
	if len(lvs) != len(want) {
		t.Fatalf("got %d volumes, want %d: %+v", len(lvs), len(want), lvs)
	}
	for i := range want {
		if !reflect.DeepEqual(lvs[i], want[i]) {
			t.Errorf("volume %d:\n got %+v\nwant %+v", i, lvs[i], want[i])
		}
	}
}

func TestParseLVSErrors(t *testing.T) {
	row := func(devices, segtype, stripes, segSize, extSize, size string) string {
		return "  v##uuid#" + devices + "#" + segtype + "#" + stripes + "#" + segSize + "#" + extSize + "#" + size + "#-wi-a-----\n"
	}
	for _, c := range []struct{ in, msg string }{
		{row("/dev/sda(0)", "striped", "99999999999", "1", "1", "1"), "malformed volume extent stripes value"},
		{row("/dev/sda(0)", "linear", "1", "1x", "1", "1"), "malformed volume extent length value"},
		{row("/dev/sda(0)", "linear", "1", "1", "99999999999999999999999", "1"), "malformed volume extent size value"},
		{row("/dev/sda(0)", "linear", "1", "1", "1", "99999999999999999999999"), "malformed volume allocation value"},
		{row("/dev/sda", "linear", "1", "1", "1", "1"), "malformed volume extent devices value"},
		{row("/dev/sda(0)", "raid5", "3", "1", "1", "1"), "malformed volume extent devices value"},
		{row("/dev/sda(x)", "linear", "1", "1", "1", "1"), "malformed volume extent offset value"},
	} {
		if _, err := parseLVS(c.in); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.in, err, c.msg)
		}
	}
	// A line that does not match (here: a short lv_attr) is skipped.
	if lvs, err := parseLVS("  v##u#/dev/sda(0)#linear#1#1#1#1#-wi\n"); err != nil || len(lvs) != 0 {
		t.Errorf("short attr: %v %v", lvs, err)
	}
}

func FuzzParseVGS(f *testing.F) {
	for _, s := range []string{recordedVGS, "  1:2:\n", "x:1\n", "vgs  1:2\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		sz, found, err := parseVGS(out)
		if err != nil && found {
			t.Fatalf("found with error %v", err)
		}
		if !found && sz != (vgSizes{}) {
			t.Fatalf("sizes %+v without a match", sz)
		}
	})
}

func FuzzParsePVS(f *testing.F) {
	for _, s := range []string{recordedPVS, "  /dev/a vg\n  /dev/b vg\n", "pvs /dev/a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		seen := map[string]bool{}
		for _, src := range parsePVS(out) {
			if src.vg == "" || len(src.devices) == 0 || seen[src.vg] {
				t.Fatalf("bad source %+v in %+v", src, parsePVS(out))
			}
			seen[src.vg] = true
		}
	})
}

func FuzzParseLVS(f *testing.F) {
	for _, s := range strings.SplitAfter(sampleLVS, "\n") {
		f.Add(s)
	}
	f.Add(sampleLVS)
	f.Add("  a#b#c#x(1),y(2),z(3)#raid5#3#10#2#10#-wi-a-----\n")
	f.Fuzz(func(t *testing.T, out string) {
		lvs, err := parseLVS(out)
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, lv := range lvs {
			if lv.name == "" || lv.uuid == "" || names[lv.name] {
				t.Fatalf("bad volume %+v", lv)
			}
			names[lv.name] = true
			for _, e := range lv.extents {
				if e.path == "" {
					t.Fatalf("extent without a device in %+v", lv)
				}
			}
		}
	})
}
