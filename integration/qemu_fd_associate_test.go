package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// virshWithFile runs one virsh session whose descriptor 3 is f (for
// --pass-fds 3).
func virshWithFile(t *testing.T, uri string, f *os.File, cmd string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "virsh", "-c", uri, cmd)
	c.ExtraFiles = []*os.File{f}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.Env = append(os.Environ(), "LC_ALL=C", "VIRSH_DEFAULT_CONNECT_URI=")
	err := c.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("virsh %s: %v", cmd, err)
	}
	return out.String(), errb.String(), rc
}

// TestQEMUFDAssociate drives virsh dom-fd-associate on the QEMU driver as
// libvirt 9.0's: a disk <source file fdgroup='NAME'> opens the image
// through the descriptors the client associated under NAME (QEMU gets an
// fd set, the path itself is never opened), a start without them is
// refused with libvirt's error, the association ends with the connection
// that made it, and the calls libvirt refuses for such images are
// refused. With GOVIRT_LIBVIRTD_COMPARE=1 the same session runs against
// libvirtd 9.0 and the answers are compared.
func TestQEMUFDAssociate(t *testing.T) {
	requireQEMURoot(t)
	needQEMU(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "fd.raw")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	// The path the XML names does not exist: only the descriptor can
	// reach the image.
	absent := filepath.Join(dir, "absent.raw")
	xml := `<domain type='qemu'><name>NAME</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='` + absent + `' fdgroup='g1'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>`
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")

	type step struct{ out, err string }
	session := func(uri, name string) []step {
		p := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(xml, "NAME", name)), 0o644); err != nil {
			t.Fatal(err)
		}
		var steps []step
		run := func(cmd string) {
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			o, e, rc := virshWithFile(t, uri, f, cmd)
			steps = append(steps, step{o, e})
			t.Logf("%s: rc=%d %s%s", cmd, rc, o, e)
		}
		mustVirsh(t, uri, "define "+p)
		run("start " + name)
		run("dom-fd-associate " + name + " --name g1 --pass-fds 3; start " + name)
		run("domblkinfo " + name + " vda")
		run("domstate " + name)
		run("destroy " + name)
		// The session that associated g1 is gone, and g1 with it.
		run("start " + name)
		run("dom-fd-associate " + name + " --name other --pass-fds 3 --seclabel-writable; start " + name)
		return steps
	}
	got := session(uri, "fdguest")
	want := []string{
		"error: invalid argument: file descriptor group 'g1' was not associated with the domain",
		"Domain 'fdguest' started",
		"error: Operation not supported: block info is not supported for FD passed disk image",
		"running",
		"Domain 'fdguest' destroyed",
		"error: invalid argument: file descriptor group 'g1' was not associated with the domain",
		"error: invalid argument: file descriptor group 'g1' was not associated with the domain",
	}
	for i, w := range want {
		if !strings.Contains(got[i].out+got[i].err, w) {
			t.Errorf("step %d: %q, want %q", i, got[i].out+got[i].err, w)
		}
	}

	// QEMU opened the image through fd set 0, as libvirt names it.
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, e, rc := virshWithFile(t, uri, f, "dom-fd-associate fdguest --name g1 --pass-fds 3; start fdguest"); rc != 0 {
		t.Fatalf("start with g1: %s", e)
	}
	fdsets := mustVirsh(t, uri, `qemu-monitor-command fdguest '{"execute":"query-fdsets"}'`)
	if !strings.Contains(fdsets, `"opaque":"libvirt-1-storage0"`) || !strings.Contains(fdsets, `"fdset-id":0`) {
		t.Errorf("query-fdsets: %s", fdsets)
	}
	nodes := mustVirsh(t, uri, `qemu-monitor-command fdguest '{"execute":"query-named-block-nodes"}'`)
	if !strings.Contains(nodes, `"file":"/dev/fdset/0"`) {
		t.Errorf("the storage node does not open the fd set: %.400s", nodes)
	}
	live := mustVirsh(t, uri, "dumpxml fdguest")
	if !strings.Contains(live, "fdgroup='g1'") {
		t.Errorf("live XML lost the fdgroup:\n%s", live)
	}
	// libvirt reads no image of an FD-passed disk by its path.
	if _, e, rc := virsh(t, uri, "domblkinfo fdguest vda"); rc == 0 || !strings.Contains(e, "FD passed") {
		t.Errorf("domblkinfo: %s", e)
	}
	if _, e, rc := virsh(t, uri, "-r", "dom-fd-associate fdguest --name g2 --pass-fds 0"); rc == 0 || !strings.Contains(e, "operation forbidden: read only access prevents virDomainFDAssociate") {
		t.Errorf("read-only dom-fd-associate: %s", e)
	}
	mustVirsh(t, uri, "destroy fdguest")
	mustVirsh(t, uri, "undefine fdguest")
	// A transient guest cannot have had descriptors associated yet.
	tp := filepath.Join(dir, "transient.xml")
	if err := os.WriteFile(tp, []byte(strings.ReplaceAll(xml, "NAME", "fdtransient")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, rc := virsh(t, uri, "create "+tp); rc == 0 || !strings.Contains(e, "error: invalid argument: file descriptor group 'g1' was not associated with the domain") {
		t.Errorf("create: %s", e)
	}

	if libvirtdCompare(t) {
		lv := session(libvirtdURI, "govirt-fdguest")
		t.Cleanup(func() {
			virsh(t, libvirtdURI, "destroy govirt-fdguest")
			virsh(t, libvirtdURI, "undefine govirt-fdguest")
		})
		for i := range lv {
			a := strings.ReplaceAll(got[i].out+got[i].err, "fdguest", "NAME")
			b := strings.ReplaceAll(lv[i].out+lv[i].err, "govirt-fdguest", "NAME")
			if a != b {
				t.Errorf("step %d: govirtd %q, libvirtd %q", i, a, b)
			}
		}
	}
}
