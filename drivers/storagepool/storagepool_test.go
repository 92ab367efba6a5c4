package storagepool

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"govirt/driver"
	"govirt/virerr"
)

type recorder struct {
	mu  sync.Mutex
	evs []driver.PoolEvent
}

func (r *recorder) Publish(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev.(driver.PoolEvent))
}

func newTestManager(t *testing.T, base string) (*Manager, *recorder) {
	t.Helper()
	rec := &recorder{}
	return New(Config{StateDir: filepath.Join(base, "state"), RunDir: filepath.Join(base, "run"), Bus: rec}), rec
}

func startedPool(t *testing.T, m *Manager, target string) driver.Pool {
	t.Helper()
	h, err := m.StoragePoolDefineXML("<pool type='dir'><name>p</name><target><path>"+target+"</path>"+
		"<permissions><mode>0750</mode></permissions></target></pool>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.StoragePoolBuild(h, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.StoragePoolCreate(h, 0); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPoolLifecycleAndReload(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "pool")
	m, rec := newTestManager(t, base)
	h := startedPool(t, m, target)
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("target: %v %v", fi, err)
	}
	if _, err := m.StorageVolCreateXML(h, "<volume><name>v</name><capacity unit='M'>4</capacity><allocation>0</allocation></volume>", 0); err != nil {
		t.Fatal(err)
	}
	xml, err := m.StoragePoolGetXMLDesc(h, 0)
	if err != nil || !strings.Contains(xml, "<mode>0750</mode>") {
		t.Fatalf("pool xml: %v\n%s", err, xml)
	}
	// Events: defined, created (build), started.
	want := []int32{driver.PoolEventDefined, driver.PoolEventCreated, driver.PoolEventStarted}
	if len(rec.evs) != len(want) {
		t.Fatalf("events %+v", rec.evs)
	}
	for i, ev := range rec.evs {
		if ev.Event != want[i] || ev.Pool.Name != "p" {
			t.Errorf("event %d = %+v, want %d", i, ev, want[i])
		}
	}
	// A second manager on the same directories (a restarted daemon)
	// finds the pool active with its volume.
	m2, _ := newTestManager(t, base)
	vols, err := m2.StoragePoolListAllVolumes(h, 0)
	if err != nil || len(vols) != 1 || vols[0].Name != "v" || vols[0].Key != target+"/v" {
		t.Fatalf("after reload: %v %+v", err, vols)
	}
	if err := m2.StoragePoolDestroy(h); err != nil {
		t.Fatal(err)
	}
	m3, _ := newTestManager(t, base)
	if on, _ := m3.StoragePoolIsActive(h); on {
		t.Errorf("destroyed pool active after reload")
	}
}

func TestVolumeNameCannotEscape(t *testing.T) {
	base := t.TempDir()
	m, _ := newTestManager(t, base)
	h := startedPool(t, m, filepath.Join(base, "pool"))
	for _, name := range []string{"../x", "a/b", "/etc/passwd"} {
		_, err := m.StorageVolCreateXML(h, "<volume><name>"+name+"</name><capacity>1024</capacity></volume>", 0)
		if virerr.CodeOf(err) != virerr.ErrOperationInvalid || !strings.Contains(err.Error(), "cannot contain '/'") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "x")); !os.IsNotExist(err) {
		t.Errorf("../x created: %v", err)
	}
}

func TestUploadConcurrentWithReads(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	base := t.TempDir()
	m, _ := newTestManager(t, base)
	h := startedPool(t, m, filepath.Join(base, "pool"))
	v, err := m.StorageVolCreateXML(h, "<volume><name>v</name><capacity unit='M'>16</capacity><allocation>0</allocation></volume>", 0)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 16<<20)
	rand.Read(data)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- m.StorageVolUpload(v, pr, 0, 0, 0) }()
	// Feed slowly; meanwhile reads must answer and destroy must refuse.
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := pw.Write(data[off : off+1<<20]); err != nil {
			t.Fatal(err)
		}
		if off == 0 {
			if _, err := m.StoragePoolListAllVolumes(h, 0); err != nil {
				t.Error(err)
			}
			if _, err := m.StorageVolGetInfo(v); err != nil {
				t.Error(err)
			}
			if err := m.StoragePoolDestroy(h); err == nil || !strings.Contains(err.Error(), "asynchronous jobs") {
				t.Errorf("destroy during upload: %v", err)
			}
			if err := m.StorageVolDelete(v, 0); err == nil {
				t.Errorf("delete during upload succeeded")
			}
		}
	}
	pw.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := m.StorageVolDownload(v, &out, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("round trip differs")
	}
	// Length bounds the upload: extra data is an error, nothing past it written.
	err = m.StorageVolUpload(v, bytes.NewReader(make([]byte, 8192)), 0, 4096, 0)
	if virerr.CodeOf(err) != virerr.ErrSystemError {
		t.Errorf("oversized upload: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(base, "pool", "v"))
	if !bytes.Equal(got[4096:8192], data[4096:8192]) || !bytes.Equal(got[:4096], make([]byte, 4096)) {
		t.Errorf("bounded upload wrote the wrong range")
	}
}

func TestPoolDefRoundTrip(t *testing.T) {
	in := "<pool type='fs'><name>f</name><source><device path='/dev/loop7'/><format type='xfs'/></source>" +
		"<target><path>/mnt//f/</path><permissions><mode>0700</mode><owner>107</owner><group>107</group></permissions></target></pool>"
	d, err := parsePoolDef(in, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.target != "/mnt/f" || d.perms != (perms{mode: 0o700, uid: 107, gid: 107}) {
		t.Fatalf("%+v", d)
	}
	out := d.format(1, 2, 3)
	d2, err := parsePoolDef(out, false)
	if err != nil || d2.format(1, 2, 3) != out {
		t.Fatalf("not a fixed point: %v\n%s", err, out)
	}
	if _, err := parsePoolDef("<pool type='disk'><name>sda</name><source><device path='/dev/sda'/></source>"+
		"<target><path>/dev</path></target></pool>", false); err == nil ||
		!strings.Contains(err.Error(), "missing backend for pool type 4 (disk)") {
		t.Errorf("disk: %v", err)
	}
}

// Both probers must agree on what volumes show.
func TestProbersAgree(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.raw"), filepath.Join(dir, "top.qcow2")
	os.WriteFile(base, make([]byte, 1<<20), 0o600)
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10,backing_fmt=raw",
		"-b", base, top, "3M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for _, p := range []string{base, top} {
		a, errA := nativeProber{}.probe(p)
		b, errB := qemuImgProber{bin: "qemu-img"}.probe(p)
		if errA != nil || errB != nil || a != b {
			t.Errorf("%s: native %+v (%v), qemu-img %+v (%v)", p, a, errA, b, errB)
		}
	}
}
