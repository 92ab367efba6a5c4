package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gatedTools writes stand-ins for the LVM tools and qemu-img into a
// directory put first in the daemon's PATH. The LVM ones answer for a
// volume group gvslowvg on /dev/gvt-none; `vgchange -aly` and
// `qemu-img create` touch NAME.started and wait for NAME.gate (vgchange,
// qemu-img) in dir, so the test decides how long they run.
func gatedTools(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	real, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed")
	}
	wait := func(name string) string {
		return fmt.Sprintf("touch %[1]s/%[2]s.started\nwhile [ ! -e %[1]s/%[2]s.gate ]; do sleep 0.05; done\n", dir, name)
	}
	tools := map[string]string{
		"vgscan":   "exit 0\n",
		"pvs":      "echo '  /dev/gvt-none gvslowvg'\n",
		"lvs":      "exit 0\n",
		"vgs":      "echo '  62914560:50331648'\n",
		"vgchange": "if [ \"$1\" = -aly ]; then\n" + wait("vgchange") + "fi\n",
		"qemu-img": "if [ \"$1\" = create ]; then\n" + wait("qemu-img") + "fi\nexec " + real + " \"$@\"\n",
	}
	for name, body := range tools {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitFile waits for a file the stand-in tools touch.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for i := 0; ; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if i > 1200 {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// bgVirsh runs a virsh command in the background; the channel gives its
// output and exit error when it ends.
func bgVirsh(t *testing.T, uri string, args ...string) <-chan string {
	t.Helper()
	cmd := exec.Command("virsh", append([]string{"-c", uri}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "VIRSH_DEFAULT_CONNECT_URI=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() { err := cmd.Wait(); done <- fmt.Sprintf("%s(err=%v)", out.String(), err) }()
	return done
}

// within runs fn and reports whether it returned in time: the commands
// it runs must answer while a slow tool holds an operation.
func within(fn func(), d time.Duration) bool {
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// A pool start stuck in a slow LVM command and a volume creation stuck in
// a slow qemu-img: virsh pool-list, pool-info, pool-dumpxml and vol-list
// answer while they run, another pool's volumes are created, and
// conflicting operations get libvirt's errors.
func TestStorageSlowCommandsDoNotBlockReads(t *testing.T) {
	needQemuImgRoot(t)
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	tools := gatedTools(t)
	dir, err := os.MkdirTemp("", "gv")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, Socket: filepath.Join(dir, "sock"), SockRO: filepath.Join(dir, "sock-ro"),
		prefix: []string{"env", "PATH=" + tools + ":" + os.Getenv("PATH")}}
	d.argv = []string{"--state-dir", filepath.Join(dir, "state"), "--run-dir", filepath.Join(dir, "run"),
		"--socket", d.Socket, "--socket-ro", d.SockRO}
	d.launch()
	t.Cleanup(d.stop)
	uri := d.URI("qemu")
	defineDirPool(t, uri, "gvfast")
	vgXML := writeTemp(t, "vg.xml", "<pool type='logical'><name>gvslowvg</name><source>"+
		"<device path='/dev/gvt-none'/><name>gvslowvg</name></source><target><path>/dev/gvslowvg</path></target></pool>")
	mustVirsh(t, uri, "pool-define "+vgXML)

	// 1. pool-start inside a slow vgchange.
	start := bgVirsh(t, uri, "pool-start", "gvslowvg")
	waitFile(t, filepath.Join(tools, "vgchange.started"))
	ok := within(func() {
		for cmd, wants := range map[string][]string{
			"pool-list --all":       {"gvslowvg", "gvfast"},
			"pool-info gvslowvg":    {"inactive"},
			"pool-dumpxml gvslowvg": {"<name>gvslowvg</name>"},
			"vol-list gvfast":       {"Name"},
		} {
			out, errOut, rc := virsh(t, uri, cmd)
			if rc != 0 {
				t.Errorf("virsh %s during pool-start: rc=%d %s", cmd, rc, errOut)
			}
			poolWant(t, cmd, out, wants...)
		}
		// Another pool changes meanwhile.
		if out, errOut, rc := virsh(t, uri, "vol-create-as gvfast a 1M"); rc != 0 {
			t.Errorf("vol-create-as in another pool during pool-start: %s%s", out, errOut)
		}
	}, 30*time.Second)
	if !ok {
		t.Error("virsh reads waited for the slow vgchange")
	}
	select {
	case out := <-start:
		t.Fatalf("pool-start ended before vgchange did: %s", out)
	default:
	}
	os.WriteFile(filepath.Join(tools, "vgchange.gate"), nil, 0o644)
	poolWant(t, "pool-start", <-start, "Pool gvslowvg started")

	// 2. vol-create-as inside a slow qemu-img create.
	create := bgVirsh(t, uri, "vol-create-as", "gvfast", "big.qcow2", "10G", "--format", "qcow2")
	waitFile(t, filepath.Join(tools, "qemu-img.started"))
	ok = within(func() {
		poolWant(t, "vol-list", mustVirshE(t, uri, "vol-list gvfast"), "big.qcow2", " a ")
		poolWant(t, "pool-list", mustVirshE(t, uri, "pool-list"), "gvslowvg", "gvfast")
		poolWant(t, "pool-info", mustVirshE(t, uri, "pool-info gvfast"), "running")
		poolVirshFails(t, uri, "vol-info big.qcow2 --pool gvfast", "volume 'big.qcow2' is still being allocated.")
		poolVirshFails(t, uri, "pool-refresh gvfast", "pool 'gvfast' has asynchronous jobs running.")
		poolVirshFails(t, uri, "pool-destroy gvfast", "pool 'gvfast' has asynchronous jobs running.")
		// Another volume of the same pool is made in parallel.
		if out, errOut, rc := virsh(t, uri, "vol-create-as gvfast small 1M"); rc != 0 {
			t.Errorf("vol-create-as during another one: %s%s", out, errOut)
		}
	}, 30*time.Second)
	if !ok {
		t.Error("virsh reads waited for the slow qemu-img")
	}
	select {
	case out := <-create:
		t.Fatalf("vol-create-as ended before qemu-img did: %s", out)
	default:
	}
	os.WriteFile(filepath.Join(tools, "qemu-img.gate"), nil, 0o644)
	poolWant(t, "vol-create-as", <-create, "Vol big.qcow2 created")
	poolWant(t, "vol-info", mustVirsh(t, uri, "vol-info big.qcow2 --pool gvfast"), "10.00 GiB")
	mustVirsh(t, uri, "pool-destroy gvslowvg")
	if !strings.Contains(mustVirsh(t, uri, "pool-list --all"), "gvslowvg") {
		t.Error("persistent pool gone after destroy")
	}
}

// mustVirshE is mustVirsh for goroutines: a failure is an error, not fatal.
func mustVirshE(t *testing.T, uri, cmd string) string {
	t.Helper()
	out, errOut, rc := virsh(t, uri, cmd)
	if rc != 0 {
		t.Errorf("virsh %s: rc=%d\n%s%s", cmd, rc, out, errOut)
	}
	return out
}
