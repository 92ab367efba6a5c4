package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeNumad writes a numad stand-in for GOVIRT_NUMAD: it records its
// arguments in argsFile and prints out (exit status rc).
func fakeNumad(t *testing.T, dir, out string, rc int) (path, argsFile string) {
	t.Helper()
	path = filepath.Join(dir, "numad")
	argsFile = filepath.Join(dir, "numad.args")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" > %s\nprintf '%%s' '%s'\nexit %d\n", argsFile, out, rc)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, argsFile
}

// numadGuestXML is a TCG test guest with 2 vCPUs, 100000 KiB of memory
// (97.66 MiB: numad is asked for 98) and the given vcpu/numatune part.
func numadGuestXML(t *testing.T, dir, name, part string) string {
	t.Helper()
	xml := testGuestXML(t, name, part, "")
	xml = strings.Replace(xml, "<domain type='kvm'>", "<domain type='qemu'>", 1)
	xml = strings.Replace(xml, "<memory unit='MiB'>128</memory>", "<memory unit='KiB'>100000</memory>", 1)
	xml = strings.Replace(xml, "  <vcpu>1</vcpu>\n", "", 1)
	p := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNUMAPlacementAutoWithNumad starts guests with automatic placement
// against a fake numad advising node 0: numad is asked as libvirt asks
// it, the start succeeds, and virsh numatune, vcpupin and emulatorpin
// answer with the advice as libvirt's qemuDomainGetNumaParameters and
// pin getters do (the persistent definition keeps no node set); the
// guest's cpuset cgroups hold node 0's CPUs and memory. On this
// one-node host node 0's CPUs are all CPUs, so the numad arguments and the
// live numatune node set are what tell the advice was taken.
func TestNUMAPlacementAutoWithNumad(t *testing.T) {
	dir := t.TempDir()
	numad, argsFile := fakeNumad(t, dir, "0\n", 0)
	d := startDaemonEnv(t, []string{"GOVIRT_NUMAD=" + numad})
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	nodeCPUs := strings.TrimSpace(readFileOr(t, "/sys/devices/system/node/node0/cpulist", "0-"+fmt.Sprint(runtime.NumCPU()-1)))

	name := fmt.Sprintf("gvnumad%d", os.Getpid())
	mustVirsh(t, uri, "define "+numadGuestXML(t, dir, name, "<vcpu placement='auto'>2</vcpu>"))
	defer virsh(t, uri, "undefine", name)
	mustVirsh(t, uri, "start "+name)
	defer virsh(t, uri, "destroy", name)
	waitState(t, d, name, "running (booted)", 60*time.Second)

	if args := strings.TrimSpace(readFileOr(t, argsFile, "")); args != "-w 2:98" {
		t.Errorf("numad arguments %q, want %q", args, "-w 2:98")
	}
	if out := mustVirsh(t, uri, "numatune "+name); !strings.Contains(out, "numa_mode      : strict\n") ||
		!strings.Contains(out, "numa_nodeset   : 0\n") {
		t.Errorf("numatune (live):\n%s", out)
	}
	if out := mustVirsh(t, uri, "numatune --config "+name); !strings.Contains(out, "numa_nodeset   : \n") {
		t.Errorf("numatune --config:\n%s", out)
	}
	vp := mustVirsh(t, uri, "vcpupin "+name)
	for _, v := range []string{"0", "1"} {
		if !strings.Contains(vp, fmt.Sprintf(" %s      %s\n", v, nodeCPUs)) {
			t.Errorf("vcpupin: vcpu %s not on %s:\n%s", v, nodeCPUs, vp)
		}
	}
	if ep := mustVirsh(t, uri, "emulatorpin "+name); !strings.Contains(ep, "*: "+nodeCPUs+"\n") {
		t.Errorf("emulatorpin:\n%s", ep)
	}
	// The advice survives a daemon restart (libvirt keeps it in the
	// status XML).
	d.crashRestart()
	if out := mustVirsh(t, uri, "numatune "+name); !strings.Contains(out, "numa_nodeset   : 0\n") {
		t.Errorf("numatune after a daemon restart:\n%s", out)
	}
	if ep := mustVirsh(t, uri, "emulatorpin "+name); !strings.Contains(ep, "*: "+nodeCPUs+"\n") {
		t.Errorf("emulatorpin after a daemon restart:\n%s", ep)
	}
	live := mustVirsh(t, uri, "dumpxml "+name)
	if !strings.Contains(live, "<vcpu placement='auto'>2</vcpu>") || !strings.Contains(live, "<memory mode='strict' placement='auto'/>") {
		t.Errorf("live XML lost the automatic placement:\n%s", live)
	}

	if os.Geteuid() == 0 {
		if _, err := os.Stat("/sys/fs/cgroup/cpuset/cpuset.cpus"); err == nil {
			id := strings.TrimSpace(mustVirsh(t, uri, "domid "+name))
			cs := cgroupDir("cpuset", id, name)
			for _, sub := range []string{"emulator", "vcpu0", "vcpu1"} {
				if v := readCg(t, filepath.Join(cs, sub, "cpuset.cpus")); v != nodeCPUs {
					t.Errorf("%s cpuset.cpus %q, want %q", sub, v, nodeCPUs)
				}
				if v := readCg(t, filepath.Join(cs, sub, "cpuset.mems")); v != "0" {
					t.Errorf("%s cpuset.mems %q, want 0", sub, v)
				}
			}
		}
	}
}

// TestNUMAPlacementNumadFailures: numad failing or answering nonsense
// fails the start with libvirt's errors, and the guest stays defined
// and shut off.
func TestNUMAPlacementNumadFailures(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	fail := filepath.Join(dir, "fail")
	os.MkdirAll(bad, 0o755)
	os.MkdirAll(fail, 0o755)
	badNumad, _ := fakeNumad(t, bad, "x", 0)
	failNumad, _ := fakeNumad(t, fail, "0", 1)
	for _, c := range []struct {
		numad, want string
	}{
		{failNumad, "error: Failed to start domain '%s'\nerror: operation failed: Failed to query numad for the advisory nodeset\n"},
		{badNumad, "error: Failed to start domain '%s'\nerror: invalid argument: Failed to parse bitmap 'x'\n"},
	} {
		d := startDaemonEnv(t, []string{"GOVIRT_NUMAD=" + c.numad})
		uri := d.URI("qemu")
		name := fmt.Sprintf("gvnumadf%d", os.Getpid())
		mustVirsh(t, uri, "define "+numadGuestXML(t, dir, name, "<vcpu>2</vcpu><numatune><memory placement='auto'/></numatune>"))
		_, errOut, rc := virsh(t, uri, "start", name)
		if want := fmt.Sprintf(c.want, name); rc == 0 || errOut != want {
			t.Errorf("%s: start rc %d, stderr %q; want %q", c.numad, rc, errOut, want)
		}
		if st := strings.TrimSpace(mustVirsh(t, uri, "domstate "+name)); st != "shut off" {
			t.Errorf("%s: state %q after the failed start", c.numad, st)
		}
		if rc == 0 {
			virsh(t, uri, "destroy", name)
		}
		mustVirsh(t, uri, "undefine "+name)
	}
}

func readFileOr(t *testing.T, p, def string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return def
	}
	return string(b)
}
