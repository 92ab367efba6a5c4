package storagepool

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"govirt/driver"
)

// fakeVG plays a volume group for the fake LVM tools: lvcreate, lvresize
// and lvremove change regular files standing in for the devices under a
// temporary lvmDevDir, and lvs reports them. It lets the volume code
// run end to end where the kernel has no device-mapper.
type fakeVG struct {
	t    *testing.T
	f    *fakeLVM
	dir  string // lvmDevDir/VG
	lvs  map[string]fakeLV
	next int
}

type fakeLV struct {
	uuid   string
	size   uint64 // allocation
	sparse bool
}

func kib(t *testing.T, arg string) uint64 {
	n, err := strconv.ParseUint(strings.TrimSuffix(arg, "K"), 10, 64)
	if err != nil {
		t.Fatalf("size argument %q", arg)
	}
	return n * 1024
}

func newFakeVG(t *testing.T, f *fakeLVM, vg string) *fakeVG {
	old := lvmDevDir
	lvmDevDir = t.TempDir()
	t.Cleanup(func() { lvmDevDir = old })
	g := &fakeVG{t: t, f: f, dir: filepath.Join(lvmDevDir, vg), lvs: map[string]fakeLV{}}
	f.out["pvs"] = "  /dev/sdb " + vg + "\n"
	f.out["vgs"] = "  1073741824:1073741824\n"
	f.hook["lvcreate"] = g.create
	f.hook["lvresize"] = g.resize
	f.hook["lvremove"] = g.remove
	g.report()
	return g
}

// report rewrites the lvs output (and the group's free space).
func (g *fakeVG) report() {
	names := make([]string, 0, len(g.lvs))
	for n := range g.lvs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	used := uint64(0)
	for _, n := range names {
		lv := g.lvs[n]
		attr := "-wi-a-----"
		if lv.sparse {
			attr = "swi-a-s---"
		}
		fmt.Fprintf(&b, "  %s##%s#/dev/sdb(0)#linear#1#%d#4194304#%d#%s\n", n, lv.uuid, lv.size, lv.size, attr)
		used += lv.size
	}
	g.f.out["lvs"] = b.String()
	g.f.out["vgs"] = fmt.Sprintf("  1073741824:%d\n", 1073741824-used)
}

func (g *fakeVG) create(args []string) {
	name, alloc := args[1], kib(g.t, args[3])
	capacity, sparse := alloc, false
	for i, a := range args {
		if a == "--virtualsize" {
			capacity, sparse = kib(g.t, args[i+1]), true
		}
	}
	os.MkdirAll(g.dir, 0o755)
	if err := os.WriteFile(filepath.Join(g.dir, name), nil, 0o660); err != nil {
		g.t.Fatal(err)
	}
	os.Truncate(filepath.Join(g.dir, name), int64(capacity))
	g.next++
	g.lvs[name] = fakeLV{uuid: fmt.Sprintf("uuid-%d", g.next), size: alloc, sparse: sparse}
	g.report()
}

func (g *fakeVG) resize(args []string) {
	path := args[len(args)-1]
	size := kib(g.t, args[1])
	os.Truncate(path, int64(size))
	lv := g.lvs[filepath.Base(path)]
	lv.size = size
	g.lvs[filepath.Base(path)] = lv
	g.report()
}

func (g *fakeVG) remove(args []string) {
	path := args[len(args)-1]
	os.Remove(path)
	delete(g.lvs, filepath.Base(path))
	g.report()
}

func TestLogicalVolumesFake(t *testing.T) {
	f := useFakeLVM(t)
	g := newFakeVG(t, f, "vg")
	m, _ := newTestManager(t, t.TempDir())
	h, err := m.StoragePoolDefineXML("<pool type='logical'><name>vg</name><source><device path='/dev/sdb'/></source></pool>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.StoragePoolCreate(h, 0); err != nil {
		t.Fatal(err)
	}
	v, err := m.StorageVolCreateXML(h, "<volume><name>lv1</name><capacity unit='M'>8</capacity></volume>", 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(g.dir, "lv1")
	if v.Key != "uuid-1" || !f.called("lvcreate --name lv1 -L 8192K vg --yes") {
		t.Errorf("created %+v, calls %q", v, f.calls)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device mode: %v %v", fi, err)
	}
	info, err := m.StorageVolGetInfo(v)
	if err != nil || info != (driver.VolInfo{Type: volBlock, Capacity: 8 << 20, Allocation: 8 << 20}) {
		t.Errorf("info %+v %v", info, err)
	}
	x, err := m.StorageVolGetXMLDesc(v, 0)
	for _, w := range []string{"<volume type='block'>", "<key>uuid-1</key>", "<device path='/dev/sdb'>",
		"<extent start='0' end='8388608'/>", "<path>" + path + "</path>", "<mode>0600</mode>"} {
		if !strings.Contains(x, w) {
			t.Errorf("want %q in\n%s", w, x)
		}
	}
	if strings.Contains(x, "<format") || err != nil {
		t.Errorf("logical volumes have no format: %v\n%s", err, x)
	}
	if pi, _ := m.StoragePoolGetInfo(h); pi.Allocation != 8<<20 || pi.Available != 1073741824-8<<20 {
		t.Errorf("pool sizes after create: %+v", pi)
	}

	// Data goes through the device.
	data := bytes.Repeat([]byte("lvm!"), 1024)
	if err := m.StorageVolUpload(v, bytes.NewReader(data), 4096, 0, 0); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := m.StorageVolDownload(v, &out, 4096, uint64(len(data)), 0); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("download: %v", err)
	}
	if err := m.StorageVolWipe(v, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, make([]byte, 8<<20)) {
		t.Errorf("wipe left data")
	}

	if err := m.StorageVolResize(v, 12<<20, 0); err != nil || !f.called("lvresize -L 12288K --yes "+path) {
		t.Fatalf("resize: %v %q", err, f.calls)
	}
	if info, _ := m.StorageVolGetInfo(v); info.Capacity != 12<<20 || info.Allocation != 12<<20 {
		t.Errorf("info after resize %+v", info)
	}
	if err := m.StorageVolResize(v, 4<<20, resizeShrink); err == nil ||
		!strings.Contains(err.Error(), "can't shrink capacity below existing allocation") {
		t.Errorf("shrink: %v", err)
	}

	// Sparse: a snapshot of nothing, which libvirt will not wipe.
	thin, err := m.StorageVolCreateXML(h, "<volume><name>thin</name><capacity unit='M'>16</capacity>"+
		"<allocation unit='M'>4</allocation></volume>", 0)
	if err != nil || !f.called("lvcreate --name thin -L 4096K --type snapshot --virtualsize 16384K vg --yes") {
		t.Fatalf("sparse create: %v %q", err, f.calls)
	}
	if info, _ := m.StorageVolGetInfo(thin); info.Capacity != 16<<20 || info.Allocation != 4<<20 {
		t.Errorf("sparse info %+v", info)
	}
	if err := m.StorageVolWipe(thin, 0); err == nil || !strings.Contains(err.Error(), "is sparse, volume wipe not supported") {
		t.Errorf("sparse wipe: %v", err)
	}
	if err := m.StorageVolResize(thin, 32<<20, 0); err == nil || !strings.Contains(err.Error(), "is sparse, volume resize not supported") {
		t.Errorf("sparse resize: %v", err)
	}

	if _, err := exec.LookPath("qemu-img"); err == nil {
		m.StorageVolUpload(v, bytes.NewReader(data), 0, 0, 0)
		c, err := m.StorageVolCreateXMLFrom(h, "<volume><name>copy</name></volume>", v, 0)
		if err != nil || !f.called("lvcreate --name copy -L 12288K vg --yes") {
			t.Fatalf("clone: %v %q", err, f.calls)
		}
		if got, _ := os.ReadFile(filepath.Join(g.dir, "copy")); !bytes.HasPrefix(got, data) || len(got) != 12<<20 {
			t.Errorf("clone holds %d bytes, not the source's", len(got))
		}
		if err := m.StorageVolDelete(c, 0); err != nil {
			t.Fatal(err)
		}
	}

	for _, vol := range []driver.Vol{v, thin} {
		if err := m.StorageVolDelete(vol, 0); err != nil {
			t.Fatal(err)
		}
	}
	if vols, _ := m.StoragePoolListAllVolumes(h, 0); len(vols) != 0 || len(g.lvs) != 0 {
		t.Errorf("left after delete: %+v %+v", vols, g.lvs)
	}
	if pi, _ := m.StoragePoolGetInfo(h); pi.Allocation != 0 {
		t.Errorf("pool sizes after delete: %+v", pi)
	}
}
