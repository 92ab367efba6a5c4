package storagepool

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"govirt/virerr"
)

// fakeLVM stands in for the LVM tools: it records every command and
// answers from a table keyed by the tool's name (the last answer set).
type fakeLVM struct {
	calls []string
	out   map[string]string
	fail  map[string]string              // stderr of a failing tool
	hook  map[string]func(args []string) // what a tool does
}

func useFakeLVM(t *testing.T) *fakeLVM {
	t.Helper()
	f := &fakeLVM{out: map[string]string{}, fail: map[string]string{}, hook: map[string]func([]string){}}
	old := lvmRun
	lvmRun = func(name string, args ...string) (string, error) {
		f.calls = append(f.calls, strings.Join(append([]string{name}, args...), " "))
		if msg, ok := f.fail[name]; ok {
			return "", errStorage(virerr.ErrInternalError, "Child process (%s) unexpected exit status 5: %s",
				strings.Join(append([]string{name}, args...), " "), msg)
		}
		if h := f.hook[name]; h != nil {
			h(args)
		}
		return f.out[name], nil
	}
	t.Cleanup(func() { lvmRun = old })
	return f
}

// called reports whether a command starting with prefix ran.
func (f *fakeLVM) called(prefix string) bool {
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func TestLogicalPoolDef(t *testing.T) {
	d, err := parsePoolDef("<pool type='logical'><name>vg0</name><source><device path='/dev/sdb'/></source>"+
		"<target><path>/somewhere/else</path></target></pool>", false)
	if err != nil {
		t.Fatal(err)
	}
	if d.srcName != "vg0" || d.target != "/dev/vg0" || d.srcFormat != "lvm2" {
		t.Fatalf("%+v", d)
	}
	out := d.format(0, 0, 0)
	for _, w := range []string{"<pool type='logical'>", "<device path='/dev/sdb'/>", "<name>vg0</name>",
		"<format type='lvm2'/>", "<path>/dev/vg0</path>"} {
		if !strings.Contains(out, w) {
			t.Errorf("want %q in\n%s", w, out)
		}
	}
	d, err = parsePoolDef("<pool type='logical'><name>p</name><source><name>realvg</name></source></pool>", false)
	if err != nil || d.srcName != "realvg" || d.target != "/dev/realvg" {
		t.Fatalf("source name: %+v %v", d, err)
	}
	if _, err := parsePoolDef("<pool type='logical'><name>p</name><source><format type='ext4'/></source></pool>", false); err == nil ||
		!strings.Contains(err.Error(), "unknown pool format type ext4") {
		t.Errorf("bad format: %v", err)
	}
}

// fakeDevice is a regular file standing in for a block device, with
// data at both ends for the build's wipe to clear.
func fakeDevice(t *testing.T) string {
	t.Helper()
	dev := filepath.Join(t.TempDir(), "disk")
	data := bytes.Repeat([]byte{0xaa}, 4<<20)
	if err := os.WriteFile(dev, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dev
}

func TestLogicalBuild(t *testing.T) {
	f := useFakeLVM(t)
	dev := fakeDevice(t)
	d := &poolDef{typ: "logical", name: "vg", srcName: "vg", devices: []string{dev}, target: "/dev/vg"}
	if err := (logicalBackend{}).build(d, buildOverwrite); err != nil {
		t.Fatal(err)
	}
	want := []string{"pvcreate " + dev, "vgcreate vg " + dev}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
	data, _ := os.ReadFile(dev)
	if !bytes.Equal(data[:1<<20], make([]byte, 1<<20)) || !bytes.Equal(data[3<<20:], make([]byte, 1<<20)) ||
		data[2<<20] != 0xaa {
		t.Errorf("build did not zero exactly the first and last MiB")
	}
	// vgcreate failing takes the new physical volumes back.
	f.calls, f.fail["vgcreate"] = nil, "  A volume group called vg already exists."
	err := (logicalBackend{}).build(d, buildOverwrite)
	if err == nil || !strings.Contains(err.Error(), "A volume group called vg already exists.") {
		t.Errorf("vgcreate failure: %v", err)
	}
	if !f.called("pvremove " + dev) {
		t.Errorf("no pvremove after a failed vgcreate: %q", f.calls)
	}
	if err := (logicalBackend{}).build(d, buildOverwrite|buildNoOverwrite); err == nil ||
		!strings.Contains(err.Error(), "mutually exclusive") {
		t.Errorf("exclusive flags: %v", err)
	}
	if err := (logicalBackend{}).build(d, buildRepair); err == nil ||
		!strings.Contains(err.Error(), "unsupported flags (0x1) in function virStorageBackendLogicalBuildPool") {
		t.Errorf("repair flag: %v", err)
	}
}

const fakeLVS = "  lv1##uuid-1#/dev/sdb(0)#linear#1#8388608#4194304#8388608#-wi-a-----\n" +
	"  lv2##uuid-2#/dev/sdb(2)#linear#1#4194304#4194304#4194304#-wi-a-----\n"

func TestLogicalPoolManager(t *testing.T) {
	f := useFakeLVM(t)
	m, _ := newTestManager(t, t.TempDir())
	h, err := m.StoragePoolDefineXML("<pool type='logical'><name>vg</name><source><device path='/dev/sdb'/></source></pool>", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Starting needs the volume group.
	f.out["pvs"] = "  /dev/sdb otherVG\n"
	if err := m.StoragePoolCreate(h, 0); err == nil || !strings.Contains(err.Error(), "cannot find logical volume group name 'vg'") {
		t.Fatalf("missing VG: %v", err)
	}
	f.out["pvs"] = "  /dev/sdc vg\n"
	if err := m.StoragePoolCreate(h, 0); err == nil ||
		!strings.Contains(err.Error(), "cannot find any matching source devices for logical volume group 'vg'") {
		t.Fatalf("wrong devices: %v", err)
	}
	f.out["pvs"] = "  /dev/sdb vg\n"
	f.out["lvs"] = fakeLVS
	f.out["vgs"] = "  62914560:50331648\n"
	if err := m.StoragePoolCreate(h, 0); err != nil {
		t.Fatal(err)
	}
	if !f.called("vgchange -aly vg") || !f.called("lvs --separator # --noheadings --units b --unbuffered --nosuffix --options "+lvsFields+" vg") ||
		!f.called("vgs --separator : --noheadings --units b --unbuffered --nosuffix --options vg_size,vg_free vg") {
		t.Errorf("start commands: %q", f.calls)
	}
	info, err := m.StoragePoolGetInfo(h)
	if err != nil || info.Capacity != 62914560 || info.Available != 50331648 || info.Allocation != 12582912 {
		t.Errorf("info %+v %v", info, err)
	}
	vols, err := m.StoragePoolListAllVolumes(h, 0)
	if err != nil || len(vols) != 2 || vols[0].Name != "lv1" || vols[0].Key != "uuid-1" {
		t.Fatalf("vols %+v %v", vols, err)
	}
	if v, err := m.LookupStorageVolByKey("uuid-2"); err != nil || v.Name != "lv2" {
		t.Errorf("by key: %+v %v", v, err)
	}
	if p, err := m.StorageVolGetPath(vols[0]); err != nil || p != "/dev/vg/lv1" {
		t.Errorf("path %q %v", p, err)
	}

	// Formats other than raw are refused before anything runs.
	f.calls = nil
	if _, err := m.StorageVolCreateXML(h, "<volume><name>q</name><capacity>1048576</capacity>"+
		"<target><format type='qcow2'/></target></volume>", 0); err == nil || !strings.Contains(err.Error(), "'qcow2' is not supported") {
		t.Errorf("qcow2: %v", err)
	}
	// A failing lvcreate is reported with its complaint and leaves nothing.
	f.fail["lvcreate"] = "  striped: Required device-mapper target(s) not detected in your kernel."
	_, err = m.StorageVolCreateXML(h, "<volume><name>new</name><capacity unit='M'>8</capacity></volume>", 0)
	if err == nil || !strings.Contains(err.Error(), "lvcreate --name new -L 8192K vg --yes") ||
		!strings.Contains(err.Error(), "Required device-mapper target(s) not detected") {
		t.Errorf("lvcreate failure: %v", err)
	}
	if f.called("lvremove") {
		t.Errorf("nothing to remove after a failed lvcreate: %q", f.calls)
	}
	if vols, _ := m.StoragePoolListAllVolumes(h, 0); len(vols) != 2 {
		t.Errorf("volumes after a failed create: %+v", vols)
	}
	// lvcreate succeeding without the device node appearing (no udev
	// here): the volume is removed again.
	delete(f.fail, "lvcreate")
	f.calls = nil
	_, err = m.StorageVolCreateXML(h, "<volume><name>gvtest-none</name><capacity unit='M'>8</capacity><allocation>0</allocation></volume>", 0)
	if err == nil || !f.called("lvremove -f /dev/vg/gvtest-none") {
		t.Errorf("vanished volume: %v %q", err, f.calls)
	}
	if !f.called("lvcreate --name gvtest-none -L 1K --type snapshot --virtualsize 8192K vg --yes") {
		t.Errorf("sparse lvcreate: %q", f.calls)
	}

	// vol-delete is lvremove, then a re-read.
	f.calls = nil
	f.out["lvs"] = fakeLVS[:strings.Index(fakeLVS, "\n")+1]
	if err := m.StorageVolDelete(vols[1], 0); err != nil {
		t.Fatal(err)
	}
	if !f.called("lvremove -f /dev/vg/lv2") || !f.called("lvs ") {
		t.Errorf("delete commands: %q", f.calls)
	}
	if vols, _ := m.StoragePoolListAllVolumes(h, 0); len(vols) != 1 {
		t.Errorf("volumes after delete: %+v", vols)
	}

	// Stop and delete.
	if err := m.StoragePoolDestroy(h); err != nil || !f.called("vgchange -aln vg") {
		t.Fatalf("destroy: %v %q", err, f.calls)
	}
	if err := m.StoragePoolDelete(h, 0); err != nil || !f.called("vgremove -f vg") || !f.called("pvremove /dev/sdb") {
		t.Fatalf("delete: %v %q", err, f.calls)
	}
}

func TestLVSizeK(t *testing.T) {
	for in, want := range map[uint64]string{0: "0K", 1: "1K", 1024: "1K", 1025: "2K", 8 << 20: "8192K"} {
		if got := lvSizeK(in); got != want {
			t.Errorf("lvSizeK(%d) = %s, want %s", in, got, want)
		}
	}
}

func TestLVCreateArgs(t *testing.T) {
	for _, c := range []struct {
		r    volReq
		want string
	}{
		{volReq{name: "a", capacity: 10 << 20, allocation: 10 << 20}, "--name a -L 10240K vg --yes"},
		{volReq{name: "b", capacity: 10 << 20, allocation: 0}, "--name b -L 1K --type snapshot --virtualsize 10240K vg --yes"},
		{volReq{name: "c", capacity: 1000, allocation: 1000}, "--name c -L 1K vg --yes"},
		{volReq{name: "d", capacity: 4 << 20, allocation: 4 << 20, backing: "/dev/vg/a"}, "--name d -L 4096K -s /dev/vg/a --yes"},
	} {
		if got := strings.Join(lvcreateArgs("vg", &c.r), " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.r.name, got, c.want)
		}
	}
}

func TestLogicalVolXML(t *testing.T) {
	vs := &volStat{typ: volBlock, capacity: 8 << 20, allocation: 8 << 20, physical: 8 << 20,
		target:  fileStat{path: "/dev/vg/lv", perms: perms{mode: 0o600, uid: 0, gid: 6}, atime: noTime, mtime: noTime, ctime: noTime},
		extents: []extent{{"/dev/sdb", 0, 4 << 20}, {"/dev/sdb", 8 << 20, 12 << 20}, {"/dev/sdc", 0, 4 << 20}}}
	got := vs.format("lv", "uuid-1")
	want := `<volume type='block'>
  <name>lv</name>
  <key>uuid-1</key>
  <source>
    <device path='/dev/sdb'>
      <extent start='0' end='4194304'/>
      <extent start='8388608' end='12582912'/>
    </device>
    <device path='/dev/sdc'>
      <extent start='0' end='4194304'/>
    </device>
  </source>
  <capacity unit='bytes'>8388608</capacity>
  <allocation unit='bytes'>8388608</allocation>
  <physical unit='bytes'>8388608</physical>
  <target>
    <path>/dev/vg/lv</path>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>6</group>
    </permissions>
  </target>
</volume>
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFindLogicalSources(t *testing.T) {
	f := useFakeLVM(t)
	m, _ := newTestManager(t, t.TempDir())
	f.out["pvs"] = "  /dev/sdb vg1\n  /dev/sdc        \n  /dev/sdd vg1\n  /dev/sde vg<2>\n"
	got, err := m.FindStoragePoolSources("logical", "", 0)
	want := `<sources>
  <source>
    <device path='/dev/sdb'/>
    <device path='/dev/sdd'/>
    <name>vg1</name>
    <format type='lvm2'/>
  </source>
  <source>
    <device path='/dev/sde'/>
    <name>vg&lt;2&gt;</name>
    <format type='lvm2'/>
  </source>
</sources>
`
	if err != nil || got != want {
		t.Errorf("got %v\n%s\nwant\n%s", err, got, want)
	}
	for typ, msg := range map[string]string{
		"dir":   "pool type 'dir' does not support source discovery",
		"iscsi": "missing backend for pool type 5 (iscsi)",
		"nope":  "unknown storage pool type nope",
	} {
		if _, err := m.FindStoragePoolSources(typ, "", 0); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", typ, err, msg)
		}
	}
}
